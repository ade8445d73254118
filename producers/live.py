"""Send a stream to Kafka paced by its event time (the simulator's live mode and replay)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from stream.kafka import EventSender
from stream.settings import Settings

FLUSH_EVERY_S = 0.02
T = TypeVar("T")


def send_paced(items: Iterable[T], sender: EventSender, send: Callable[[T], None],
               event_time: Callable[[T], float | None], speed: float | None,
               sleep: Callable[[float], None] = time.sleep,
               on_sent: Callable[[int], None] | None = None) -> int:
    """Send ``items`` at ``speed`` times their event-time pace (None: as fast as possible;
    items without an event time go at once), flushing at least every 20 ms while paced.
    Returns the number sent; the caller flushes or closes the sender."""
    started = time.monotonic()
    first: float | None = None
    last_flush = started
    sent = 0
    for item in items:
        if speed is not None:
            ts = event_time(item)
            if ts is not None:
                if first is None:
                    first = ts
                delay = started + (ts - first) / speed - time.monotonic()
                if delay > 0:
                    sender.flush()
                    sleep(delay)
        send(item)
        sent += 1
        now = time.monotonic()
        if speed is not None and now - last_flush >= FLUSH_EVERY_S:
            sender.flush()
            last_flush = now
        if on_sent is not None:
            on_sent(sent)
    return sent


def _event_ts(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00")).timestamp()


def publish_paced(events: Iterable[dict[str, object]], settings: Settings,
                  speed: float | None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Send event dicts at ``speed`` times their event-time pace. Returns the number sent."""
    sender = EventSender(settings)
    try:
        return send_paced(events, sender, sender.send, _event_ts, speed, sleep)
    finally:
        sender.close()
