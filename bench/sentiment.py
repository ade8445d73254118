"""Speed of sentiment scoring: ``python -m bench.sentiment [--lines N] [--runs R]``.

Scores N generated customer lines (chat messages and transcript segments of complaints,
requests and thanks, made up here from templates) on one core (the process is pinned to one
CPU where the OS allows it) and prints the median messages/s of R runs, twice:

- ``score()`` alone;
- the worker path: the lines as ``chat.message`` / ``transcript.segment`` events of 500
  contacts applied to a partition state with the default QA flag rules
  (``PartitionState.apply`` scores each into its contact's conversation), the flag rules run
  on the touched contacts after every batch of 500 events, as the worker does.

Issue 7 asks for at least 5,000 messages/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

from stream.alerts.rules import default_config
from stream.events import EVENT_ADAPTER, Event
from stream.report import new_partition_state
from stream.sentiment.scoring import score
from stream.settings import Settings

TARGET_PER_S = 5_000

PRODUCTS = ["order", "package", "refund", "bill", "router", "phone", "card", "booking",
            "flight", "bag", "subscription", "account", "parcel", "invoice", "ticket"]
DAYS = ["Monday", "Tuesday", "last week", "yesterday", "this morning", "two weeks ago"]
PLACES = ["the airport", "gate 12", "the store", "home", "the office", "the hotel"]

COMPLAINTS = [
    "I have been on hold for {n} minutes and still no answer",
    "still waiting for my {p} since {d}",
    "my {p} never arrived and nobody replies to my emails",
    "this is the third time I call about my {p}",
    "you charged me twice for the same {p}, I want my money back",
    "why is my {p} still not fixed?!",
    "flight delayed again, stuck at {pl} for {n} hours",
    "no one picks up the phone, what's the point of a help line",
    "I was promised a call back on {d} and nobody called",
    "can't log in to my account since {d}, the app keeps crashing",
    "transferred {n} times and each agent tells me something different",
    "the internet is down again, second outage this week",
    "I want to speak to a supervisor about my {p}",
    "if this is not sorted today I will cancel my {p} and file a complaint",
    "where is my {p}? the tracking has not updated since {d}",
    "lost my {p} at {pl} and no update for {n} days",
    "honestly this is ridiculous, worst service I have ever had",
]
REQUESTS = [
    "hi, can you help me change the address on my {p}",
    "what time does {pl} open on {d}",
    "I'd like to add a second {p} to my account please",
    "could you tell me the status of order {o}",
    "my account number is {o}, the {p} is under my wife's name",
    "yes that's right, the one from {d}",
    "ok, I'll hold",
    "can I pay the {p} by card",
    "is it possible to upgrade my {p}",
    "sure, my email is on the {p}",
]
THANKS = [
    "thank you so much, that fixed it",
    "great, thanks for the quick help",
    "perfect, the {p} arrived this morning, thanks!",
    "you have been very helpful, have a nice day",
    "no problem, thanks again",
]
LONG_SEGMENT = (
    "so basically what happened is I ordered the {p} on {d} and it was supposed to come in "
    "three days, and then I got an email saying it was delayed, and then nothing, so I "
    "called and I was on hold for {n} minutes, and the person said it would be sorted, but "
    "it is still not here and I really need it for work"
)


def customer_lines(count: int, seed: int = 7) -> list[str]:
    """``count`` made-up customer lines: about half complaints, a third requests, the rest
    thanks, and one in twenty a long transcript segment."""
    rnd = random.Random(seed)
    lines: list[str] = []
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.05:
            template = LONG_SEGMENT
        elif roll < 0.55:
            template = rnd.choice(COMPLAINTS)
        elif roll < 0.88:
            template = rnd.choice(REQUESTS)
        else:
            template = rnd.choice(THANKS)
        line = template.format(p=rnd.choice(PRODUCTS), d=rnd.choice(DAYS),
                               pl=rnd.choice(PLACES), n=rnd.randint(2, 90),
                               o=rnd.randint(100_000, 999_999))
        if rnd.random() < 0.1:
            line = line.upper()
        lines.append(line)
    return lines


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned"


def run(lines: list[str]) -> float:
    start = time.perf_counter()
    for line in lines:
        score(line)
    return len(lines) / (time.perf_counter() - start)


def worker_events(lines: list[str], contacts: int = 500) -> list[Event]:
    """The lines as customer messages of ``contacts`` contacts, a second apart."""
    start = 1_795_424_400_000
    events: list[Event] = []
    for i, line in enumerate(lines):
        kind, who = (("transcript.segment", "speaker") if i % 2
                     else ("chat.message", "sender"))
        events.append(EVENT_ADAPTER.validate_python({
            "event_id": f"m{i}", "type": kind, "ts": (start + i * 1000) / 1000,
            "contact_id": f"c{i % contacts}", who: "customer", "text": line}))
    return events


def run_worker_path(events: list[Event], batch: int = 500) -> float:
    state = new_partition_state(Settings(), flags=default_config().flags)
    assert state.qa is not None
    started = time.perf_counter()
    for i in range(0, len(events), batch):
        for event in events[i:i + batch]:
            state.apply(event)
        state.qa.evaluate(state.contacts)
    return len(events) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sentiment")
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    pinned = pin_to_one_core()
    lines = customer_lines(args.lines)
    run(lines[:200])  # warm up
    rates = [run(lines) for _ in range(args.runs)]
    rate = statistics.median(rates)
    chars = statistics.mean(len(line) for line in lines)
    print(f"score(): {rate:,.0f} messages/s (median of {args.runs} runs over {len(lines):,} "
          f"customer lines, {chars:.0f} characters on average; {pinned}; "
          f"Python {platform.python_version()})")
    events = worker_events(lines)
    worker_rates = [run_worker_path(events) for _ in range(args.runs)]
    worker_rate = statistics.median(worker_rates)
    print(f"worker path (apply to the partition state, flag rules after each batch of 500): "
          f"{worker_rate:,.0f} messages/s (median of {args.runs} runs)")
    slowest = min(rate, worker_rate)
    print(f"target {TARGET_PER_S:,} messages/s: {'met' if slowest >= TARGET_PER_S else 'NOT met'}")


if __name__ == "__main__":
    main()
