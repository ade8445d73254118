"""Publish a recorded JSONL stream to Kafka with its original pacing, scaled, or at once.

Lines are sent as they are (valid or not: the worker dead-letters the invalid ones), batched
per partition. With ``wait``, returns only when the worker has processed and published
every line: a marker goes to every partition after the last line and the worker
acknowledges each marker in Redis after everything before it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

import orjson
import redis

from producers.live import send_paced
from stream.kafka import EventSender
from stream.settings import Settings


def _event_time(line: bytes) -> float | None:
    try:
        obj = orjson.loads(line)
        return datetime.fromisoformat(str(obj["ts"]).replace("Z", "+00:00")).timestamp()
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def read_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield line.rstrip(b"\r\n")


class ProgressBar:
    def __init__(self, total: int, out: IO[str] | None, width: int = 30) -> None:
        self.total, self.out, self.width = max(1, total), out, width
        self.last = 0.0

    def show(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if self.out is None or (not force and now - self.last < 0.2):
            return
        self.last = now
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        self.out.write(f"\r[{bar}] {done}/{self.total} events")
        if force:
            self.out.write("\n")
        self.out.flush()


def replay(path: Path, settings: Settings, speed: float | None = None, wait: bool = False,
           wait_timeout_s: float = 600.0, progress: IO[str] | None = sys.stderr,
           sleep: Callable[[float], None] = time.sleep, batch_max: int = 500) -> int:
    """Send every line of ``path``; ``speed`` None = as fast as possible; at most
    ``batch_max`` events a message. Returns lines sent."""
    total = sum(1 for _ in read_lines(path))
    bar = ProgressBar(total, progress)
    sender = EventSender(settings, batch_max)
    try:
        sent = send_paced(read_lines(path), sender, sender.send_line, _event_time, speed,
                          sleep, bar.show)
        sender.flush()
        bar.show(sent, force=True)
        if wait:
            marker = sender.send_markers()
            wait_for_marker(settings, marker, sender.partitions, wait_timeout_s)
    finally:
        sender.close()
    return sent


def wait_for_marker(settings: Settings, marker: str, partitions: int, timeout_s: float) -> None:
    _, redis_url = settings.require_servers()
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    try:
        while client.hlen(settings.marker_key(marker)) < partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the worker did not confirm the replay within {timeout_s:.0f} s "
                    "(is `floorpulse worker` running?)")
            time.sleep(0.05)
    finally:
        client.close()
