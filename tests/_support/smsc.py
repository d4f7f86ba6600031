"""Starting and steering the SMSC simulator (``smsc_simulator.py``) as a subprocess."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from telmark.execution.channels.config import SmppSettings
from telmark.execution.channels.sms_text import decode_payload, parse_udh

SCRIPT = Path(__file__).with_name("smsc_simulator.py")
START_TIMEOUT = 15.0


class SmscSimulator:
    """``with SmscSimulator(tmp_path) as smsc:`` — an SMSC on ``smsc.port`` until the block ends."""

    def __init__(self, directory: Path, *, drop_after: int | None = None) -> None:
        self.records_path = directory / "smsc-records.jsonl"
        self.drop_after = drop_after
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SmscSimulator:
        command = [sys.executable, str(SCRIPT), "--records", str(self.records_path)]
        if self.drop_after is not None:
            command += ["--drop-after", str(self.drop_after)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.port = int(self._read_line(START_TIMEOUT)["port"])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()  # the simulator stops when its stdin ends
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        self._process = None

    def settings(self, **overrides: Any) -> SmppSettings:
        """ESME settings pointing at this simulator (fast timers for tests)."""
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "system_id": "telmark",
            "password": "secret",
            "source_addr": "10658888",
            "reconnect_initial": 0.05,
            "reconnect_max": 0.5,
            "reconnect_give_up": 10.0,
            "response_timeout": 5.0,
        }
        values.update(overrides)
        return SmppSettings(**values)

    def _read_line(self, timeout: float) -> dict[str, Any]:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the SMSC simulator did not answer (exit code {process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def command(self, name: str) -> dict[str, Any]:
        """``stats`` or ``drop``; the simulator's JSON answer."""
        process = self._process
        assert process is not None
        assert process.stdin is not None
        process.stdin.write(name + "\n")
        process.stdin.flush()
        return self._read_line(5.0)

    def records(self) -> list[dict[str, Any]]:
        """Every submit_sm the simulator received, in arrival order."""
        if not self.records_path.exists():
            return []
        with self.records_path.open(encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]


def reassemble(records: list[dict[str, Any]]) -> list[str]:
    """The texts the accepted submit_sm carry, concatenated parts joined (by destination + ref)."""
    texts: list[str] = []
    partial: dict[tuple[str, int], dict[int, bytes]] = {}
    for record in records:
        if record["status"]:
            continue
        data = bytes.fromhex(record["sm"])
        if not record["esm"] & 0x40:
            texts.append(decode_payload(record["dc"], data))
            continue
        reference, total, number, payload = parse_udh(data)
        parts = partial.setdefault((record["to"], reference), {})
        parts[number] = payload
        if len(parts) == total:
            del partial[(record["to"], reference)]
            joined = b"".join(parts[n] for n in range(1, total + 1))
            texts.append(decode_payload(record["dc"], joined))
    return texts
