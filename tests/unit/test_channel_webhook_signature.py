"""Webhook signatures: what a receiver checks (no network)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from telmark.execution.channels.base import Message, Outcome
from telmark.execution.channels.webhook import SignatureInvalid, classify, payload, sign, verify

BODY = payload(
    Message(key="case-3:sub-9", to="openid-abc", body="您的积分即将到期", subject="积分提醒")
)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, BODY) == f"v1={expected}"
    assert "您的积分即将到期".encode() in BODY  # UTF-8, not \u escapes


def headers(secret: str, stamp: int, body: bytes = BODY) -> dict[str, str]:
    return {"x-telmark-timestamp": str(stamp), "X-Telmark-Signature": sign(secret, stamp, body)}


def test_verify_accepts_a_fresh_genuine_request() -> None:
    verify("k", headers("k", 1700000000), BODY, now=1700000100)


@pytest.mark.parametrize(
    ("secret", "body", "now", "reason"),
    [
        ("other", BODY, 1700000000, "does not match"),
        ("k", BODY.replace("到期".encode(), "延期".encode()), 1700000000, "does not match"),
        ("k", BODY, 1700000301, "window"),
    ],
)
def test_verify_rejects(secret: str, body: bytes, now: int, reason: str) -> None:
    with pytest.raises(SignatureInvalid, match=reason):
        verify(secret, headers("k", 1700000000), body, now=now)


def test_verify_rejects_a_missing_timestamp() -> None:
    with pytest.raises(SignatureInvalid, match="timestamp"):
        verify("k", {"X-Telmark-Signature": "v1=00"}, BODY, now=0)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.ACCEPTED),
        (204, Outcome.ACCEPTED),
        (400, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (408, Outcome.TRANSIENT),
        (429, Outcome.TRANSIENT),
        (500, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
    ],
)
def test_status_classification(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome
