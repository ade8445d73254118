"""Worker memory over a simulated week at full speed (issue 4, 5), and replay time (6).

``week``: a 1,000-agent center, seven days, pre-filled in the input topic (batched as the
producers send); a fresh worker reads it from offset 0 while its RSS is sampled with the
processed counter. The figure: RSS at the end of the first simulated day, the largest RSS
after it, and the growth in per cent.

``replay``: ``floorpulse replay FILE --speed max --wait`` of a recorded file into a running
worker; seconds from start until the worker has confirmed every event.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psutil
import redis

from bench.throughput import Servers
from producers.replay import wait_for_marker
from producers.simulator import default_config, simulate
from stream.kafka import EventSender
from stream.metrics.facts import HOUR_MS
from stream.progress import progress_totals
from stream.settings import Settings

HISTORY_DAYS = 40  # the simulated days end before this many days ago: history


def history_start(now: datetime | None = None) -> datetime:
    """08:00 UTC of the first simulated day: the Monday at least ``HISTORY_DAYS`` days back,
    so that every simulated day is history, as in a replay (the live alert evaluator skips
    instants older than its window; days stamped around now would be evaluated live,
    instant by instant).

    A Monday, because the simulator's weekdays differ in volume (Monday the busiest,
    ``DEFAULT_WEEKDAY_FACTORS``) and the worker's working set follows the volume: a week
    from any other weekday ends with the Monday, whose larger working set then showed as
    "growth after the first day" (+8 % in one run), on a different day of the week in each
    run as the date moved on. From a Monday, the first day holds the week's busiest working
    set, and what grows after it is what the worker accumulates."""
    today = (now or datetime.now(UTC)).replace(hour=8, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=HISTORY_DAYS)
    return start - timedelta(days=start.weekday())


def center_days(days: int, agents: int, start_day: datetime | None = None,
                transcripts: bool = True, skip: int = 0,
                chat_messages: bool = True) -> Iterator[list[dict[str, object]]]:
    """Each simulated day's events (08:00-20:00 centre), one list a day; ``skip``: start
    from that day of the week (the same days as without it, fewer of them)."""
    first = start_day or history_start()
    for day in range(skip, days):
        start = first + timedelta(days=day)
        yield list(simulate(replace(default_config(hours=12, seed=500 + day, agents=agents,
                                                   start=start), transcripts=transcripts,
                                    chat_messages=chat_messages)))


def week(servers: Servers, workdir: Path, days: int = 7, agents: int = 1000) -> dict[str, object]:
    settings = servers.settings("week", workdir)
    sender = EventSender(settings)
    day_ends: list[int] = []
    total = 0
    for events in center_days(days, agents):
        sender.send_all(events)
        total += len(events)
        day_ends.append(total)
    sender.flush()
    sender.close()
    client = redis.Redis.from_url(settings.redis_url or "")
    proc = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker"],
                            env={**os.environ, **settings.to_env()},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[tuple[int, float]] = []  # (processed, RSS in MB)
    spreads: list[tuple[int, float]] = []  # (processed, partitions' stream-time spread, h)
    started = time.monotonic()
    try:
        ps = psutil.Process(proc.pid)
        while True:
            done = progress_totals(client.hgetall(settings.progress_key).values())["processed"]
            samples.append((done, ps.memory_info().rss / 2**20))
            spread = clock_spread_h(client, settings)
            if spread is not None:
                spreads.append((done, spread))
            if done >= total:
                break
            if time.monotonic() - started > 1800:
                raise TimeoutError("the worker did not finish the week within 30 min")
            time.sleep(0.25)
        seconds = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(30)
        client.close()
    first_day = max((rss for done, rss in samples if done <= day_ends[0]), default=0.0)
    later = max((rss for done, rss in samples if done > day_ends[0]), default=first_day)
    return {
        "events": total, "days": days, "agents": agents, "seconds": seconds,
        "rss_mb_first_day": first_day, "rss_mb_max_after": later,
        "rss_growth_after_first_day": later / first_day - 1 if first_day else None,
        "rss_mb_by_day": [max((rss for done, rss in samples if done <= end), default=0.0)
                          for end in day_ends],
        # the largest gap between the partitions' stream times during each day, hours
        "clock_spread_h_by_day": [
            max((h for done, h in spreads if start < done <= end), default=0.0)
            for start, end in zip([0, *day_ends], day_ends, strict=False)],
    }


CLOCK = re.compile(rb'^\{"clock":(\d+)')


def clock_spread_h(client: redis.Redis, settings: Settings,
                   tenant: str = "default") -> float | None:
    """Hours between the stream times of the most and the least advanced partitions, from
    the start of the views the worker publishes (``{"clock": ...``: read 40 bytes each)."""
    pipe = client.pipeline(transaction=False)
    for partition in range(settings.topic_partitions):
        pipe.getrange(settings.view_key(tenant, partition), 0, 40)
    clocks = [int(m.group(1)) for raw in pipe.execute() if raw and (m := CLOCK.match(raw))]
    if len(clocks) < 2:
        return None
    return (max(clocks) - min(clocks)) / HOUR_MS


def replay_file(servers: Servers, workdir: Path, events: int = 1_000_000,
                text: bool = True) -> dict[str, object]:
    """Without ``text``: no transcripts and no chat messages (``bench --no-text``), so more
    days of the center make up the same number of events."""
    settings = servers.settings("replay", workdir)
    path = workdir / "replay.jsonl"
    written = 0
    with path.open("wb") as out:
        for day in center_days(days=7, agents=1000, transcripts=text, chat_messages=text):
            for event in day:
                out.write(orjson.dumps(event) + b"\n")
                written += 1
                if written >= events:
                    break
            if written >= events:
                break
    env = {**os.environ, **settings.to_env()}
    worker = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sender = EventSender(settings)  # the worker's start (group join) is not timed:
        try:  # wait until it confirms a marker
            wait_for_marker(settings, sender.send_markers(), sender.partitions, 120)
        finally:
            sender.close()
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "stream.cli", "replay", str(path), "--speed",
                        "max", "--wait"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(30)
    return {"events": written, "seconds": seconds, "events_per_s": written / seconds}
