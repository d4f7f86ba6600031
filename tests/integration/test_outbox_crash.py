"""Never twice, never skipped: a dispatch worker SIGKILLed mid-run, and an SMSC that drops us.

The worker runs as its own process (``telmark execution dispatch``) against the
SMSC simulator process; what counts is what the simulator accepted, read from
its records file: every planned text exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import sessionmaker

from telmark.db import configure_sqlite
from telmark.execution.models import OutboxMessage
from tests._support.outbox import add_case, add_outbox, add_run, list_row
from tests._support.outbox import text as text_of
from tests._support.outbox_smsc import ReceiptSmsc
from tests.conftest import POSTGRES_ENV, _migrate
from tests.requirements import unavailable

ROWS = 1000


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated database of its own (committed data: the worker is another process)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
        engine = configure_sqlite(create_engine(url))
        with engine.begin() as connection:
            _migrate(connection)
        yield url, engine
        engine.dispose()
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        unavailable("postgres", f"{POSTGRES_ENV} is not set")
    schema = f"telmark_crash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(base, connect_args={"options": f"-csearch_path={schema}"})
    with engine.begin() as connection:
        _migrate(connection)
    yield f"{base}?options=-csearch_path%3D{schema}", engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _seed(engine: Engine, directory: Path, rows: int) -> None:
    factory = sessionmaker(bind=engine)
    with factory() as session:
        case_id = add_case(session)
        run_id = add_run(session, directory, [list_row(case_id, "RENEW", 1)])
        add_outbox(session, run_id=run_id, case_id=case_id, count=rows)
        session.commit()


def _worker(url: str, smsc: ReceiptSmsc, *options: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TELMARK_DATABASE_URL": url,
        "TELMARK_SMPP_HOST": "127.0.0.1",
        "TELMARK_SMPP_PORT": str(smsc.port),
        "TELMARK_SMPP_SYSTEM_ID": "telmark",
        "TELMARK_SMPP_PASSWORD": "secret",
        "TELMARK_SMPP_SOURCE_ADDR": "10658888",
        "TELMARK_SMPP_RECONNECT_INITIAL": "0.05",
        "TELMARK_SMPP_RECONNECT_MAX": "0.3",
        "TELMARK_SMPP_RESPONSE_TIMEOUT": "3",
    }
    command = [
        sys.executable, "-c", "from telmark.cli import main; main()",
        "execution", "dispatch", "--channel", "sms", "--until-empty", "--batch", "40",
        "--lease", "1", "--in-doubt-grace", "1.5", "--idle", "0.1", *options,
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(worker: subprocess.Popen[bytes], timeout: float = 60) -> str:
    out, err = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, err.decode()[-3000:]
    return out.decode() + err.decode()


def _assert_exactly_once(smsc: ReceiptSmsc, engine: Engine, rows: int) -> None:
    received = smsc.received()
    planned = {text_of(i) for i in range(rows)}
    twice = {t: n for t, n in received.items() if n > 1}
    assert not twice, f"{len(twice)} texts accepted more than once"
    assert set(received) == planned  # nothing skipped, nothing foreign
    with engine.connect() as connection:
        states = dict(
            connection.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            ).all()
        )
        failed = set(
            connection.scalars(select(OutboxMessage.address).where(OutboxMessage.state == "failed"))
        )
    assert set(states) <= {"sent", "delivered", "failed"}
    assert sum(states.values()) == rows
    # The simulator reports numbers ending 0000 undelivered; nothing else fails.
    assert all(a.endswith("0000") for a in failed)


def test_a_worker_killed_mid_run_and_restarted_sends_each_contact_exactly_once(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = database
    _seed(engine, tmp_path / "lists", ROWS)
    with ReceiptSmsc(tmp_path) as smsc:
        first = _worker(url, smsc, "--tps", "1500")
        deadline = time.monotonic() + 30
        while smsc.accepted() < ROWS // 3:
            assert first.poll() is None, first.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        before_restart = smsc.accepted()
        assert before_restart < ROWS  # killed mid-run, not after
        log = _finish(_worker(url, smsc))
        _assert_exactly_once(smsc, engine, ROWS)
    assert "in doubt" in log  # the second worker found the first one's batch in hand


def test_an_smsc_dropping_the_connection_mid_run_costs_nothing_twice(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = database
    _seed(engine, tmp_path / "lists", ROWS)
    with ReceiptSmsc(tmp_path, drop_after=ROWS // 2) as smsc:
        log = _finish(_worker(url, smsc, "--json"))
        assert smsc.command("stats")["drops"] == 1
        _assert_exactly_once(smsc, engine, ROWS)
    assert "in doubt" in log
