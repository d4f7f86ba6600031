"""Starting ``smsc_receipts.py`` (an SMSC that routes and holds receipts) as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests._support.smsc import SmscSimulator, reassemble

SCRIPT = Path(__file__).with_name("smsc_receipts.py")


class ReceiptSmsc(SmscSimulator):
    """``with ReceiptSmsc(tmp_path) as smsc:`` — an SMSC on ``smsc.port`` until the block ends."""

    def __init__(
        self, directory: Path, *, drop_after: int | None = None, receipt_delay: float = 0.5
    ) -> None:
        super().__init__(directory, drop_after=drop_after)
        self.receipt_delay = receipt_delay

    def __enter__(self) -> ReceiptSmsc:
        command = [
            sys.executable, str(SCRIPT), "--records", str(self.records_path),
            "--receipt-delay", str(self.receipt_delay),
        ]  # fmt: skip
        if self.drop_after is not None:
            command += ["--drop-after", str(self.drop_after)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.port = int(self._read_line(15.0)["port"])
        return self

    def received(self) -> Counter[str]:
        """How many times each text was accepted (long messages reassembled)."""
        return Counter(reassemble(self.records()))

    def accepted(self) -> int:
        """submit_sm accepted so far (read from the records file, which survives everything)."""
        return sum(1 for r in self.records() if not r["status"])
