"""An SMSC for tests: the ``smpp34`` package's SMPP 3.4 server, run as its own process.

    python tests/_support/smsc_simulator.py --records FILE [--drop-after N]

Everything SMPP (binds, PDUs, windows, enquire_link, deliver_sm) is the
``smpp34`` server (a Rust implementation from PyPI, not ours); this script only
configures it, decides each submit_sm's answer, records what arrived, and can
cut the TCP connections the way a failing network or SMSC would:

* It prints ``{"port": P}`` on its first line: ESMEs connect to ``127.0.0.1:P``,
  a plain TCP relay in front of the server, so that "drop" can abort the
  connections (the server itself only unbinds politely).
* Every submit_sm is appended to ``--records`` as one JSON line, written before
  it is answered (so a count survives the simulator being killed): time,
  connection number, the message id given, destination, data_coding,
  esm_class, short_message (hex) and the status answered.
* Answers by destination suffix: ``9999`` rejected ESME_RINVDSTADR (permanent),
  ``8888`` ESME_RTHROTTLED (transient); otherwise accepted and, when asked
  (registered_delivery), a delivery receipt follows: ``stat:UNDELIV`` for
  destinations ending ``0000``, ``stat:DELIVRD`` for the rest.
* ``--drop-after N`` aborts every connection right after the N-th submit_sm
  (once). Lines on stdin are commands, each answered with one JSON line:
  ``stats`` (submits, binds, drops) and ``drop`` (abort every connection now).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import Coroutine
from typing import IO, Any

import smpp34
from smpp34._smpp34 import ESME_RINVDSTADR, ESME_RTHROTTLED  # the stub names them here

RECEIPT = (
    "id:{id} sub:001 dlvrd:{dlvrd} submit date:{date} done date:{date} stat:{stat} err:{err} text:"
)


class Relay(asyncio.Protocol):
    """One side of a relayed TCP connection: what it reads, its peer writes."""

    def __init__(self) -> None:
        self.peer: asyncio.Transport | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.peer is not None:
            self.peer.write(data)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - Protocol API
        if self.peer is not None:
            self.peer.abort()


class FrontRelay(Relay):
    """The ESME's side: connects to the SMPP server, reading nothing until it has."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__()
        self.sim = sim

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        self.sim.spawn(self._link())

    async def _link(self) -> None:
        assert self.transport is not None
        back = Relay()
        back.peer = self.transport
        back_transport, _ = await asyncio.get_running_loop().create_connection(
            lambda: back, "127.0.0.1", self.sim.backend_port
        )
        self.peer = back_transport
        self.sim.links.append((self.transport, back_transport))
        self.transport.resume_reading()


class Simulator:
    def __init__(self, records: IO[str], drop_after: int | None) -> None:
        self.records = records
        self.drop_after = drop_after
        self.submits = self.binds = self.drops = 0
        self.sessions: dict[str, smpp34.Esme] = {}
        self.connection_of: dict[str, int] = {}
        self.links: list[tuple[asyncio.Transport, asyncio.Transport]] = []
        self.backend_port = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def drop(self) -> int:
        dropped = 0
        for front, back in self.links:
            if not front.is_closing():
                dropped += 1
            front.abort()
            back.abort()
        self.links.clear()
        self.drops += 1
        return dropped

    async def serve_smpp(self, server: smpp34.Server) -> None:
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                self.binds += 1
                self.sessions[event.session_id] = event
                self.connection_of[event.session_id] = self.binds
            elif isinstance(event, smpp34.Unbound):
                self.sessions.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                self.on_submit(event)

    def on_submit(self, event: smpp34.SubmitSmEvent) -> None:
        self.submits += 1
        message_id = f"{self.submits:010x}"
        to = event.destination_addr
        status = 0
        if to.endswith("9999"):
            status = ESME_RINVDSTADR
        elif to.endswith("8888"):
            status = ESME_RTHROTTLED
        record = {
            "t": time.time(),
            "conn": self.connection_of.get(event.session_id, 0),
            "id": message_id if status == 0 else "",
            "to": to,
            "dc": event.data_coding,
            "esm": event.esm_class,
            "sm": event.short_message.hex(),
            "status": status,
        }
        self.records.write(json.dumps(record) + "\n")  # line-buffered: one write(2) per line
        if status:
            event.reject(status)
        else:
            event.accept(message_id=message_id)
            if event.registered_delivery & 1:
                self.spawn(self.receipt(event, message_id))
        if self.drop_after is not None and self.submits == self.drop_after:
            asyncio.get_running_loop().call_soon(self.drop)

    async def receipt(self, event: smpp34.SubmitSmEvent, message_id: str) -> None:
        esme = self.sessions.get(event.session_id)
        if esme is None or not esme.can_receive:
            return
        failed = event.destination_addr.endswith("0000")
        text = RECEIPT.format(
            id=message_id,
            dlvrd="000" if failed else "001",
            date=time.strftime("%y%m%d%H%M"),
            stat="UNDELIV" if failed else "DELIVRD",
            err="001" if failed else "000",
        )
        await esme.deliver_sm(
            source_addr=event.destination_addr,
            destination_addr=event.source_addr,
            esm_class=0x04,
            short_message=text.encode("ascii"),
        )

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # Kept in a set: the event loop holds tasks only weakly.
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a receipt to a dropped session fails, as expected

    async def commands(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().strip():
            answer: dict[str, object]
            if line == "drop":
                answer = {"dropped": self.drop()}
            elif line == "stats":
                answer = {"submits": self.submits, "binds": self.binds, "drops": self.drops}
            else:
                answer = {"error": f"unknown command {line!r}"}
            reply(answer)


def reply(answer: dict[str, object]) -> None:
    """One JSON line on stdout: the protocol with the test that started us."""
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def main(records_path: str, drop_after: int | None) -> None:
    loop = asyncio.get_running_loop()
    with open(records_path, "a", encoding="utf-8", buffering=1) as records:
        sim = Simulator(records, drop_after)
        sim.backend_port = free_port()
        server = smpp34.Server(host="127.0.0.1", port=sim.backend_port, system_id="TELMARKSIM")
        await server.start()
        listener = await loop.create_server(lambda: FrontRelay(sim), "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        reply({"port": port})
        smpp = loop.create_task(sim.serve_smpp(server))
        await sim.commands()  # until stdin closes
        smpp.cancel()
        listener.close()
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", required=True)
    parser.add_argument("--drop-after", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.drop_after))
    sys.stdout.flush()
    # Skip interpreter finalisation: smpp34's runtime threads can still be winding down then,
    # and once (in ~40 runs) that aborted the process with "Fatal Python error" on stderr.
    # The records file is closed and stdout flushed, so nothing is lost.
    os._exit(0)
