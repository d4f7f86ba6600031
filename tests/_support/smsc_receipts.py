"""The test SMSC with receipts as a production SMSC sends them: held, routed, with ``text:``.

    python tests/_support/smsc_receipts.py --records FILE [--drop-after N] [--receipt-delay S]

``smsc_simulator.py`` (the smpp34 server behind a relay) sends each delivery
receipt at once, only on the session that submitted the message, with an
empty ``text:`` field. Operator SMSCs differ in the two ways the outbox's
crash recovery relies on (``telmark.execution.dispatch``, "in doubt"):

* a receipt goes to a session bound with the ESME's ``system_id``, whichever
  one is bound when it is ready, and is held and retried while none can take
  it — so receipts of messages submitted just before an ESME died reach the
  ESME's next bind;
* ``text:`` carries the first 20 characters of the message (SMPP 3.4
  Appendix B), here in Latin-1 with other characters as ``?``.

It also sends the receipt after ``--receipt-delay`` seconds (default 0.5), the
time a handset takes to acknowledge, not at the moment of the submit_sm_resp.
Everything else (binds, PDUs, records, drops, answers by destination) is
``smsc_simulator.py``'s ``Simulator``, reused as it is. Tests start it with
``outbox_smsc.ReceiptSmsc``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __name__ == "__main__":
    sys.path[:0] = [str(HERE)]  # run as a script: import the simulator beside us

RECEIPT_TEXT_CHARS = 20
DELIVER_TIMEOUT = 2.0


def _text_start(esm_class: int, data_coding: int, short_message: bytes) -> str:
    from telmark.execution.channels.sms_text import decode_payload, parse_udh

    payload = short_message
    if esm_class & 0x40:
        _, _, _, payload = parse_udh(short_message)
    text = decode_payload(data_coding, payload)[:RECEIPT_TEXT_CHARS]
    return text.encode("latin-1", errors="replace").decode("latin-1")


def _simulator_class() -> Any:
    import smpp34
    from smsc_simulator import RECEIPT, Simulator  # type: ignore[import-not-found]

    class RoutingSimulator(Simulator):  # type: ignore[misc]
        """Receipts held per ESME and sent on any bound session that can take them."""

        delay = 0.5

        async def receipt(self, event: smpp34.SubmitSmEvent, message_id: str) -> None:
            failed = event.destination_addr.endswith("0000")
            text = RECEIPT.format(
                id=message_id,
                dlvrd="000" if failed else "001",
                date=time.strftime("%y%m%d%H%M"),
                stat="UNDELIV" if failed else "DELIVRD",
                err="001" if failed else "000",
            ) + _text_start(event.esm_class, event.data_coding, event.short_message)
            destination, source = event.destination_addr, event.source_addr
            await asyncio.sleep(self.delay)
            while True:
                for esme in list(self.sessions.values()):
                    if not esme.can_receive:
                        continue
                    try:
                        answer = await asyncio.wait_for(
                            esme.deliver_sm(
                                source_addr=destination,
                                destination_addr=source,
                                esm_class=0x04,
                                short_message=text.encode("latin-1"),
                            ),
                            DELIVER_TIMEOUT,
                        )
                    except Exception:  # noqa: BLE001 - a dead session: try another, or later
                        continue
                    if answer.is_success():
                        return
                await asyncio.sleep(0.05)

    return RoutingSimulator


async def _main(records_path: str, drop_after: int | None, delay: float) -> None:
    import smpp34
    import smsc_simulator as base

    loop = asyncio.get_running_loop()
    with open(records_path, "a", encoding="utf-8", buffering=1) as records:
        sim = _simulator_class()(records, drop_after)
        sim.delay = delay
        sim.backend_port = base.free_port()
        server = smpp34.Server(host="127.0.0.1", port=sim.backend_port, system_id="TELMARKSIM")
        await server.start()
        listener = await loop.create_server(lambda: base.FrontRelay(sim), "127.0.0.1", 0)
        base.reply({"port": listener.sockets[0].getsockname()[1]})
        smpp = loop.create_task(sim.serve_smpp(server))
        await sim.commands()
        smpp.cancel()
        listener.close()
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", required=True)
    parser.add_argument("--drop-after", type=int, default=None)
    parser.add_argument("--receipt-delay", type=float, default=0.5)
    args = parser.parse_args()
    asyncio.run(_main(args.records, args.drop_after, args.receipt_delay))
    sys.stdout.flush()
    os._exit(0)  # as smsc_simulator.py: smpp34's runtime threads may still be winding down
