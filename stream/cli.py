"""``floorpulse``: the command line.

    floorpulse up [--simulate] [--speed N]     the whole embedded stack (demo)
    floorpulse worker | gateway                one part, against configured servers
    floorpulse simulate [--hours H] [--speed N|max] [--seed S] [--out FILE]
    floorpulse replay FILE [--speed N|max] [--wait]
    floorpulse metrics [--json] [--tenant T]
    floorpulse intervals [--queue Q] [--from T] [--to T] [--json|--csv] [--tenant T]
    floorpulse report FILE [--json|--csv]      interval rows of a recorded stream (no Kafka)
    floorpulse backtest [--rules FILE] RECORDED.jsonl [--json]   alert rules over a file
    floorpulse sentiment [--json]              score messages read from standard input
    floorpulse schedule FILE [--published T] [--out FILE]   publish schedules (CSV/JSON)
    floorpulse forecast FILE [--published T] [--out FILE]   publish forecasts (CSV/JSON)
    floorpulse qa-rebuild                      the QA queue in Redis again, from the QA topic
    floorpulse topics                          create the topics (idempotent)
    floorpulse schema                          print the events' JSON Schema
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import orjson

from stream.progress import progress_totals
from stream.settings import Settings


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    speed = float(value)
    if speed <= 0:
        raise argparse.ArgumentTypeError("speed must be > 0 or 'max'")
    return speed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="floorpulse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="warning")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the whole embedded stack")
    up.add_argument("--simulate", action="store_true", help="also run the simulator")
    up.add_argument("--speed", default="1", help="simulator speed (N times real time)")
    up.add_argument("--seed", type=int, default=1)
    up.add_argument("--http-port", type=int, default=None)

    sub.add_parser("worker", help="run the stream worker")
    sub.add_parser("gateway", help="run the WebSocket gateway and page")
    sub.add_parser("topics", help="create the topics")
    sub.add_parser("qa-rebuild", help="rebuild the QA queue in Redis from the QA topic "
                                      "(after Redis was lost; docs/sentiment.md)")
    sub.add_parser("schema", help="print the JSON Schema of an event")

    sim = sub.add_parser("simulate", help="simulate a contact center")
    sim.add_argument("--hours", type=float, default=8.0)
    sim.add_argument("--speed", type=_speed, default=1.0, help="N times real time, or max")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--agents", type=int, default=40)
    sim.add_argument("--out", type=Path, default=None, help="write JSONL here instead")
    sim.add_argument("--start", default=None,
                     help="ISO start time (default: now when publishing, a fixed day "
                          "when writing a file)")

    rep = sub.add_parser("replay", help="publish a recorded JSONL stream")
    rep.add_argument("file", type=Path)
    rep.add_argument("--speed", type=_speed, default=None, help="N times recorded pace, or max")
    rep.add_argument("--wait", action="store_true",
                     help="return when the worker has processed every event")
    rep.add_argument("--timeout", type=float, default=600.0)

    met = sub.add_parser("metrics", help="print the live figures")
    met.add_argument("--json", action="store_true")
    met.add_argument("--tenant", default="default")

    ivs = sub.add_parser("intervals", help="closed and open 15-minute intervals, from Redis")
    ivs.add_argument("--tenant", default="default")
    ivs.add_argument("--queue", default=None)
    ivs.add_argument("--from", dest="start", default=None, help="ISO date or time (inclusive)")
    ivs.add_argument("--to", dest="end", default=None, help="ISO date or time (exclusive)")
    _formats(ivs)

    rep_ = sub.add_parser("report", help="interval rows computed from a recorded JSONL file")
    rep_.add_argument("file", type=Path)
    _formats(rep_)

    bt = sub.add_parser("backtest", help="run alert rules over a recorded JSONL file")
    bt.add_argument("file", type=Path)
    bt.add_argument("--rules", type=Path, default=None,
                    help="rules file (TOML; default: FLOORPULSE_RULES_FILE or the shipped rules)")
    bt.add_argument("--json", action="store_true", help="a JSON array of transitions")

    sen = sub.add_parser("sentiment", help="score messages, one per line on standard input")
    sen.add_argument("--json", action="store_true", help="one JSON object per line")

    for name, what in (("schedule", "agents' schedules"), ("forecast", "queues' forecasts")):
        plan = sub.add_parser(name, help=f"publish {what} from a CSV or JSON file "
                                         "(docs/metrics.md section 5)")
        plan.add_argument("file", type=Path)
        plan.add_argument("--published", default=None,
                          help="publication time, ISO (default: now); a schedule replaces "
                               "the ones published before it from this time on")
        plan.add_argument("--tenant", default="default")
        plan.add_argument("--out", type=Path, default=None,
                          help="write the events as JSONL here instead of publishing them")
    return parser


def _formats(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="a JSON array of rows")
    group.add_argument("--csv", action="store_true", help="CSV with a header")


def print_rows(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from stream.report import rows_csv, rows_table
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif args.csv:
        sys.stdout.write(rows_csv(rows))
    else:
        sys.stdout.write(rows_table(rows))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    command: str = args.command
    if command == "up":
        from stream.launcher import up
        if args.http_port is not None:
            settings = settings.model_copy(update={"http_port": args.http_port})
        return up(settings, simulate=args.simulate, speed=args.speed, seed=args.seed)
    if command == "worker":
        from stream.app import run_worker
        from stream.kafka import ensure_topics
        ensure_topics(settings)
        run_worker(settings, args.log_level)
        return 0
    if command == "gateway":
        from gateway.server import main as gateway_main
        gateway_main(settings)
        return 0
    if command == "backtest":
        return backtest_command(settings, args)
    if command == "sentiment":
        return sentiment_command(settings, args)
    if command in ("schedule", "forecast"):
        return plan_command(settings, args)
    if command == "qa-rebuild":
        return qa_rebuild_command(settings)
    if command == "topics":
        from stream.kafka import ensure_topics
        ensure_topics(settings)
        return 0
    if command == "schema":
        from stream.events import json_schema
        sys.stdout.write(orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if command == "simulate":
        return simulate(args, settings)
    if command == "replay":
        from producers.replay import replay
        sent = replay(args.file, settings, speed=args.speed, wait=args.wait,
                      wait_timeout_s=args.timeout)
        print(f"replayed {sent} lines", file=sys.stderr)
        return 0
    if command == "metrics":
        return metrics(settings, args.tenant, args.json)
    if command == "intervals":
        from stream.intervals import read_intervals
        rows = read_intervals(settings, args.tenant, args.queue, _when(args.start, settings),
                              _when(args.end, settings))
        print_rows(rows, args)
        return 0
    if command == "report":
        from stream.report import read_events, report_rows
        print_rows(report_rows(read_events(args.file), settings), args)
        return 0
    raise AssertionError(command)


def _when(text: str | None, settings: Settings) -> datetime | None:
    """An ISO date (midnight, center's zone) or date-time (center's zone if no offset)."""
    if text is None:
        return None
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=settings.zone)


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    from producers.simulator import default_config, write_jsonl
    from producers.simulator import simulate as run_simulation
    start = datetime.fromisoformat(args.start) if args.start else None
    if start is None and args.out is None:
        # Live: today's opening (08:00 in the center's zone), so the demo is busy at once.
        today = datetime.now(settings.zone).date()
        start = datetime.combine(today, dt_time(8), settings.zone)
    config = default_config(hours=args.hours, seed=args.seed, start=start, agents=args.agents)
    if args.out is not None:
        count = write_jsonl(run_simulation(config), args.out)
        print(f"wrote {count} events to {args.out}", file=sys.stderr)
        return 0
    from producers.live import publish_paced
    publish_paced(run_simulation(config), settings, args.speed)
    return 0


def read_metrics(settings: Settings, tenant: str) -> dict[str, Any]:
    import redis
    _, redis_url = settings.require_servers()
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.get(settings.snapshot_key(tenant))
        progress = client.hgetall(settings.progress_key)
    finally:
        client.close()
    snapshot: dict[str, Any] = orjson.loads(raw) if raw else {
        "tenant": tenant, "queues": {}, "teams": {}, "agents": {}}
    # The counters as the partitions' owners last wrote them (also when no event was valid).
    snapshot.update(progress_totals(progress.values()))
    return snapshot


def metrics(settings: Settings, tenant: str, as_json: bool) -> int:
    snapshot = read_metrics(settings, tenant)
    if as_json:
        sys.stdout.write(orjson.dumps(snapshot, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"tenant {tenant} as of {snapshot.get('as_of', '-')}  processed "
          f"{snapshot['processed']}  dead letters {snapshot['dead_letters']}")
    header = f"{'queue':<14}{'wait':>6}{'longest':>9}{'offered':>9}{'answ':>7}{'aband':>7}"
    header += f"{'SL':>7}{'ASA':>8}{'AHT':>8}{'aband%':>8}"
    print(header)
    for name, q in snapshot["queues"].items():
        print(f"{name:<14}{q['waiting']:>6}{_mmss(q['longest_wait_s']):>9}{q['offered']:>9}"
              f"{q['answered']:>7}{q['abandoned']:>7}{_pct(q['service_level']):>7}"
              f"{_mmss(q['asa_s']):>8}{_mmss(q['aht_s']):>8}{_pct(q['abandon_rate']):>8}")
    now = time.time()
    states: dict[str, int] = {}
    for agent in snapshot["agents"].values():
        states[agent["state"]] = states.get(agent["state"], 0) + 1
    print("agents: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) +
          f"  (read at {datetime.fromtimestamp(now, UTC):%H:%M:%S} UTC)")
    return 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _mmss(value: float | None) -> str:
    if value is None:
        return "—"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes}:{seconds:02d}"



def backtest_command(settings: Settings, args: argparse.Namespace) -> int:
    from stream.alerts.backtest import backtest, format_transitions
    from stream.alerts.rules import RuleFileError, default_config, load_config
    from stream.report import read_events
    path = args.rules or (Path(settings.rules_file) if settings.rules_file else None)
    try:
        config = default_config() if path is None else load_config(path)
    except RuleFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    transitions = backtest(read_events(args.file), config.rules, settings,
                           flags=config.flags)
    sys.stdout.write(format_transitions(transitions, json=args.json))
    return 0


def qa_rebuild_command(settings: Settings) -> int:
    import asyncio

    from stream.qa.rebuild import rebuild_qa_queue
    done = asyncio.run(rebuild_qa_queue(settings))
    print(f"QA queue rebuilt: {done.items} items of {done.tenants} tenant(s) from "
          f"{done.events} QA events ({done.skipped} not folded), then {done.later} newer "
          "events folded again", file=sys.stderr)
    return 0


def plan_command(settings: Settings, args: argparse.Namespace) -> int:
    """``floorpulse schedule|forecast FILE``: the file's events, published or written."""
    from stream.wfm.loaders import PlanFileError, load_forecast, load_schedule
    published = _when(args.published, settings) or datetime.now(UTC)
    load = load_schedule if args.command == "schedule" else load_forecast
    try:
        events = load(args.file, settings.zone, published, args.tenant)
    except PlanFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    bodies = [e.model_dump(mode="json", exclude_none=True) for e in events]
    if args.out is not None:
        args.out.write_bytes(b"".join(orjson.dumps(b) + b"\n" for b in bodies))
        print(f"wrote {len(bodies)} events to {args.out}", file=sys.stderr)
        return 0
    from producers.live import publish_paced
    publish_paced(bodies, settings, None)
    print(f"published {len(bodies)} {args.command} events", file=sys.stderr)
    return 0


def sentiment_command(settings: Settings, args: argparse.Namespace) -> int:
    """Each line's score and whether that message alone counts as negative."""
    from stream.sentiment.scoring import escalation_phrases, is_negative, score
    config = settings.sentiment
    for raw in sys.stdin:
        text = raw.rstrip("\n")
        value = score(text)
        negative = is_negative(value, config.negative_threshold)
        phrases = escalation_phrases(text, config.escalation_phrases)
        if args.json:
            line = orjson.dumps({"text": text, "score": round(value, 4), "negative": negative,
                                 "escalation_phrases": phrases}).decode()
        else:
            marks = ("negative" if negative else "-") + (
                f" escalation: {', '.join(phrases)}" if phrases else "")
            line = f"{value:+.3f}  {marks:<10}  {text}"
        sys.stdout.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
