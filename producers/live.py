"""Publish a stream of event dicts to Kafka, paced by their event time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime

from stream.kafka import EventSender
from stream.settings import Settings

FLUSH_EVERY_S = 0.02


def publish_paced(events: Iterable[dict[str, object]], settings: Settings,
                  speed: float | None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Send events at ``speed`` times their event-time pace (None: as fast as possible),
    flushing every 20 ms. Returns the number sent."""
    sender = EventSender(settings)
    started = time.monotonic()
    first: float | None = None
    last_flush = started
    sent = 0
    try:
        for event in events:
            if speed is not None:
                ts = datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00")).timestamp()
                if first is None:
                    first = ts
                delay = started + (ts - first) / speed - time.monotonic()
                if delay > 0:
                    sender.flush()
                    last_flush = time.monotonic()
                    sleep(delay)
            sender.send(event)
            sent += 1
            now = time.monotonic()
            if now - last_flush >= FLUSH_EVERY_S:
                sender.flush()
                last_flush = now
    finally:
        sender.close()
    return sent
