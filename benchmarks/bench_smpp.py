"""SMS dispatch through SMPP: unthrottled throughput and TPS accuracy against a local SMSC.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_smpp.py

The SMSC is the test simulator (``tests/_support/smsc_simulator.py``: the
``smpp34`` server in its own process, on loopback), started afresh for each
run; the ESME is ``telmark.execution.channels.smpp.SmppChannel`` in this
process. Every message is a personalised Chinese marketing text of one UCS-2
segment, each with a delivery receipt requested, so the SMSC also sends one
``deliver_sm`` per message back over the same connection while the batch runs.

* **unthrottled**: ``--messages`` in one ``send_batch`` with ``window`` 50;
  messages/s from the wall time of ``send_batch`` (bind included), median of
  ``--runs``. Target ≥ 500 messages/s.
* **throttled**: the same with ``tps`` set; the rate is measured where the
  contract is enforced, at the SMSC, from the arrival times of the first and
  last ``submit_sm`` ((n - 1) / elapsed). Target: within ±5 % of the setting.
* **drop**: one unthrottled run in which the SMSC cuts the TCP connection after
  half the messages; reports the reconnect, the resubmitted and the duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests._support: the SMSC simulator harness

from tests._support.smsc import SmscSimulator  # noqa: E402

from _common import (  # noqa: E402 - the helper module sits beside this script
    machine,
    machine_markdown,
    median,
    now_utc,
    update_section,
    write_json,
)
from telmark.execution.channels.base import Message  # noqa: E402
from telmark.execution.channels.smpp import SmppChannel  # noqa: E402

TARGET_RATE = 500.0
TARGET_TPS_ERROR = 0.05
WINDOW = 50


def messages(count: int) -> list[Message]:
    return [
        Message(
            key=f"bench:{i}",
            to=f"86138{i:07d}1",  # ends in 1: none of the simulator's refusal suffixes
            body=f"【营销中心】尊敬的客户{i}：您的合约即将到期，续约即送200元话费，回复1办理，退订回TD",
        )
        for i in range(count)
    ]


def one_run(count: int, *, tps: float | None, drop_after: int | None = None) -> dict[str, Any]:
    batch = messages(count)
    with (
        tempfile.TemporaryDirectory() as tmp,
        SmscSimulator(Path(tmp), drop_after=drop_after) as smsc,
    ):
        channel = SmppChannel(
            smsc.settings(window=WINDOW, tps=tps, reconnect_initial=0.05, response_timeout=10)
        )

        async def send() -> float:
            started = time.perf_counter()
            results = await channel.send_batch(batch)
            elapsed = time.perf_counter() - started
            await channel.close()
            if not all(r.accepted for r in results):
                raise SystemExit(f"not all accepted: {Counter(r.outcome for r in results)}")
            return elapsed

        cpu = time.process_time()
        elapsed = asyncio.run(send())
        cpu = time.process_time() - cpu
        records = smsc.records()
    times = sorted(r["t"] for r in records)
    received = Counter(r["to"] for r in records)
    return {
        "messages": count,
        "seconds": round(elapsed, 3),
        "esme_cpu_seconds": round(cpu, 3),
        "rate": round(count / elapsed, 1),
        "smsc_rate": round((len(times) - 1) / (times[-1] - times[0]), 2),
        "submit_sm_received": len(records),
        "receipts": channel.stats.receipts,
        "binds": channel.stats.binds,
        "resubmitted": channel.stats.resubmitted,
        "duplicated": sum(n - 1 for n in received.values()),
        "missing": sum(1 for m in batch if m.to not in received),
    }


def render_markdown(payload: dict[str, Any]) -> str:
    free = payload["unthrottled"]
    lines = [
        f"Measured {payload['measured_at']} on {machine_markdown(payload['machine'])}.",
        "",
        "`benchmarks/bench_smpp.py`: `SmppChannel.send_batch` (ESME, asyncio, window "
        f"{WINDOW}) against the `smpp34` SMSC simulator in a second process over loopback; "
        "each message a personalised Chinese text of one UCS-2 segment with a delivery "
        "receipt requested (the SMSC sends one `deliver_sm` back per message during the run). "
        "Both processes share the machine's 2 cores, so the figure is for ESME and SMSC "
        "together; the machine is shared with other work too, and the figures are wall-clock "
        "with that contention included.",
        "",
        "| run | messages | median | runs | target |",
        "|---|---:|---:|---|---|",
        f"| unthrottled | {free['messages']:,} | **{free['median_rate']:,.0f} msg/s** | "
        + ", ".join(f"{r['rate']:,.0f}" for r in free["runs"])
        + f" | ≥ {TARGET_RATE:.0f} msg/s |",
    ]
    for entry in payload["throttled"]:
        lines.append(
            f"| tps = {entry['tps']:g} | {entry['messages']:,} | "
            f"**{entry['median_smsc_rate']:.2f} /s** at the SMSC "
            f"({entry['median_error'] * 100:+.2f} %) | "
            + ", ".join(f"{r['smsc_rate']:.2f}" for r in entry["runs"])
            + f" | ±{TARGET_TPS_ERROR * 100:.0f} % |"
        )
    drop = payload["drop"]
    lines += [
        "",
        f"ESME CPU per message (unthrottled, median run): {free['median_cpu_us']:.0f} µs.",
        "",
        f"SMSC drop: {drop['messages']:,} messages, the TCP connection cut after "
        f"{drop['drop_after']:,} `submit_sm`: {drop['binds']} binds, all accepted, "
        f"{drop['resubmitted']} resubmitted (no response before the cut), "
        f"{drop['duplicated']} of them duplicated at the SMSC (accepted before the cut, "
        f"response lost), {drop['missing']} missing, in {drop['seconds']:.2f} s.",
        "",
        f"Targets met: **{payload['meets_targets']}**.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tps", type=float, nargs="+", default=[200.0, 1000.0])
    parser.add_argument("--throttled-seconds", type=float, default=5.0)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()

    info = machine()
    one_run(500, tps=None)  # warm-up: imports, the simulator's first start
    runs = [one_run(args.messages, tps=None) for _ in range(args.runs)]
    print("unthrottled", [r["rate"] for r in runs], flush=True)
    unthrottled = {
        "messages": args.messages,
        "runs": runs,
        "median_rate": median([r["rate"] for r in runs]),
        "median_cpu_us": median([r["esme_cpu_seconds"] / r["messages"] * 1e6 for r in runs]),
    }
    throttled = []
    for tps in args.tps:
        count = int(tps * args.throttled_seconds) + 1
        tps_runs = [one_run(count, tps=tps) for _ in range(3)]
        rate = median([r["smsc_rate"] for r in tps_runs])
        throttled.append(
            {
                "tps": tps,
                "messages": count,
                "runs": tps_runs,
                "median_smsc_rate": rate,
                "median_error": round(rate / tps - 1, 5),
            }
        )
        print("tps", tps, [r["smsc_rate"] for r in tps_runs], flush=True)
    drop = one_run(args.messages, tps=None, drop_after=args.messages // 2)
    drop["drop_after"] = args.messages // 2
    print("drop", drop, flush=True)

    payload: dict[str, Any] = {
        "name": "smpp",
        "measured_at": now_utc(),
        "machine": info,
        "window": WINDOW,
        "unthrottled": unthrottled,
        "throttled": throttled,
        "drop": drop,
        "targets": {"rate": TARGET_RATE, "tps_error": TARGET_TPS_ERROR},
    }
    payload["meets_targets"] = (
        unthrottled["median_rate"] >= TARGET_RATE
        and all(abs(t["median_error"]) <= TARGET_TPS_ERROR for t in throttled)
        and drop["missing"] == 0
    )
    if not args.no_results:
        write_json("smpp", payload)
        update_section("SMS dispatch (SMPP)", render_markdown(payload))
    print("meets targets:", payload["meets_targets"])


if __name__ == "__main__":
    main()
