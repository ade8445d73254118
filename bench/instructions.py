"""Instructions an event, counted: ``python -m bench.instructions [--events N] [--text]``.

On the reference machine the same build's timings move by ±25 % from run to run
(docs/performance.md), more than most single changes to the hot path. Valgrind's callgrind
counts the instructions executed instead: the same build and input give the same count
within 0.3 % (two runs of 30k events: 54,646 and 54,510 an event), whatever else the machine
is doing, so two builds compare closely, one after the other or at once.

This feeds the simulated center's events (500 to a message, four partitions, the QA flags
on, no publishing turns) through the worker's own :class:`EventProcessor` in one process,
as ``bench.hotpath`` does, under ``valgrind --tool=callgrind`` with the instrumentation
switched on only for the feed (``callgrind_control -i on``: building the events is not
counted). It prints the instructions an event in all and in the compiled entry points
(applying an event, the QA rules after a batch, expiry, an agent's changelog records), and
writes ``bench/results-instructions.json``. To compare two builds, run it in each tree
(``PYTHONPATH=that-tree``); a build without the compiled modules counts only the total.

Counts are not times (a cache miss costs more than an addition), but on the same machine
fewer instructions on the same path is less time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from bench.servers import simulated_events

HERE = Path(__file__).parent
RESULTS = HERE / "results-instructions.json"
# Compiled entry points (mypyc's names: CPyDef_<module>___<class>___<method>)
PARTS = {
    "apply (PartitionState.refusal)": "CPyDef_partition___PartitionState___refusal",
    "QA rules after a batch (ContactQaStore.evaluate)":
        "CPyDef_contact___ContactQaStore___evaluate",
    "expiry (PartitionState.expire)": "CPyDef_partition___PartitionState___expire",
    "agents' records (AgentFacts.take_records)": "CPyDef_facts___AgentFacts___take_records",
}


def child(events: int, text: bool) -> None:
    """The feed, run by valgrind: tells the parent when it is ready, waits for its word,
    feeds, tells it again and waits before leaving (so interpreter shutdown is not
    counted)."""
    from bench.hotpath import HotPath, messages
    from stream.app import tune_gc
    from stream.settings import Settings

    settings = Settings()
    batches = messages(simulated_events(events, text=text), settings.topic_partitions, 500, 4)
    tune_gc()
    hot = HotPath(settings, publish_every=10**9, qa=True)
    print("ready", flush=True)
    sys.stdin.readline()
    asyncio.run(hot.feed(batches, last=False))
    print("done", flush=True)
    sys.stdin.readline()


def count(events: int, text: bool, keep: Path | None = None) -> dict[str, float]:
    """Runs :func:`child` under callgrind; instructions an event, in all and by part.
    ``keep``: where to copy callgrind's output (for ``callgrind_annotate --tree=calling``)."""
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install valgrind (Debian: apt-get install "
                             "valgrind)")
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               f"--callgrind-out-file={out}", sys.executable, "-m", "bench.instructions",
               "--child", "--events", str(events), *(["--text"] if text else [])]
        # the same string hashes every run: sets and dicts iterate alike, counts repeat
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        to_child, from_child = proc.stdin, proc.stdout
        assert to_child is not None and from_child is not None
        for expect, switch in (("ready", "on"), ("done", "off")):
            line = from_child.readline().strip()
            if line != expect:
                proc.kill()
                raise SystemExit(f"the feed under valgrind said {line!r}, not {expect!r}")
            subprocess.run(["callgrind_control", "-i", switch, str(proc.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            to_child.write("\n")
            to_child.flush()
        proc.wait()
        if keep is not None:
            shutil.copyfile(out, keep)
        annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                                    str(out)],
                                   check=True, capture_output=True, text=True).stdout
    found: dict[str, int] = {}
    symbols = {symbol: label for label, symbol in PARTS.items()}
    for line in annotated.splitlines():
        # "1,234,567 (12.34%)  file.c:function [object]", or "... PROGRAM TOTALS"
        number, _, rest = line.strip().partition(" ")
        if not number.replace(",", "").isdigit():
            continue
        where = rest.partition(")")[2].strip().split(" [")[0]
        if where.startswith("PROGRAM TOTALS"):
            found["total"] = int(number.replace(",", ""))
        elif (label := symbols.get(where.rsplit(":", 1)[-1])) is not None:
            found[label] = max(found.get(label, 0), int(number.replace(",", "")))
    return {label: n / events for label, n in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--text", action="store_true",
                        help="transcripts and chat lines too (scored: far more a line)")
    parser.add_argument("--keep", type=Path, metavar="FILE",
                        help="keep callgrind's output there, to read with callgrind_annotate")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.events, args.text)
        return
    figures = count(args.events, args.text, args.keep)
    print(f"instructions an event, {args.events:,} events of the simulated center"
          f"{' with text' if args.text else ''}, in process (callgrind)")
    for label, value in figures.items():
        print(f"  {label:<55} {value:>10,.0f}")
    RESULTS.write_bytes(orjson.dumps({"events": args.events, "text": args.text,
                                      "instructions_per_event": figures},
                                     option=orjson.OPT_INDENT_2))
    print(f"written to {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
