"""Regenerate the recorded streams in this folder (deterministic):

    python tests/data/make_recorded.py

``day_small.jsonl``: two simulated hours of a 16-agent center, with 5 % of events moved
up to 90 s out of order and 1 % sent twice, as real feeds do.
``bad_lines.jsonl``: the same start, with malformed lines between good events.
``wfm_day.jsonl``: a small hand-made morning for the intraday figures: a forecast of 20
contacts per interval for queue ``billing`` (AHT 180 s); agents a1-a8 scheduled from 09:00
(a8 logs in at 09:10), a9 from 09:30; 30 contacts in the 09:00 interval and 15 in the first
half of the 09:15 one, each handled in 200 s; the stream ends at 09:22:30.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from producers.simulator import default_config, simulate
from tests.streams import disorder

HERE = Path(__file__).parent
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def wfm_day() -> list[dict[str, object]]:
    """The events of ``wfm_day.jsonl`` in time order."""
    day = "2026-11-23T"
    ids = iter(range(1_000_000))
    events: list[dict[str, object]] = []

    def add(ts: str, kind: str, **fields: object) -> None:
        events.append({"event_id": f"wfm-{next(ids)}", "type": kind, "ts": day + ts,
                       **fields})

    add("07:00:00Z", "forecast.published", queue="billing", intervals=[
        {"start": f"{day}{hh}:{mm}:00Z", "volume": 20, "aht_s": 180}
        for hh, mm in (("09", "00"), ("09", "15"), ("09", "30"), ("09", "45"), ("10", "00"))])
    agents = [f"a{n}" for n in range(1, 10)]
    for agent in agents:
        start = "09:30" if agent == "a9" else "09:00"
        add("07:00:00Z", "schedule.published", agent_id=agent, segments=[
            {"start": f"{day}{start}:00Z", "end": f"{day}11:00:00Z", "activity": "open"}])
    for agent in agents:
        add("08:55:00Z", "agent.state", agent_id=agent, state="logged_out", team="Blue",
            queues=["billing"])
    for agent in agents[:7]:
        add("09:00:00Z", "agent.state", agent_id=agent, state="available")
    contacts: list[tuple[int, str, dict[str, object]]] = []
    queued_at = [9 * 3600 + 30 * k for k in range(30)] + [
        9 * 3600 + 900 + 30 * k for k in range(15)]
    for n, q in enumerate(queued_at):
        cid = f"c{n}"
        for offset, kind, fields in ((0, "contact.queued", {"queue": "billing"}),
                                     (5, "contact.answered", {"queue": "billing",
                                                              "agent_id": "a1"}),
                                     (165, "contact.ended", {"agent_id": "a1"}),
                                     (205, "contact.wrapped", {"agent_id": "a1"})):
            contacts.append((q + offset, kind, {"contact_id": cid, **fields}))
    contacts.append((9 * 3600 + 600, "agent.state", {"agent_id": "a8", "state": "available"}))
    end = 9 * 3600 + 22 * 60 + 30
    for t, kind, fields in sorted(contacts, key=lambda c: c[0]):
        if t <= end:
            hh, rest = divmod(t, 3600)
            add(f"{hh:02d}:{rest // 60:02d}:{rest % 60:02d}Z", kind, **fields)
    add("09:22:30Z", "agent.state", agent_id="a7", state="available")  # the stream's end
    return events


def main() -> None:
    events = list(simulate(default_config(hours=2, seed=11, start=START, agents=16)))
    lines = [orjson.dumps(e) for e in disorder(events, seed=5)]
    (HERE / "day_small.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    good = [orjson.dumps(e) for e in events[:400]]
    bad = [
        b"this is not json",
        b'{"type": "contact.teleported", "event_id": "x1", "ts": "2026-11-23T08:10:00Z"}',
        b'{"type": "contact.queued", "event_id": "x2", "ts": "2026-11-23T08:10:00Z",'
        b' "contact_id": "bad-1", "channel": "voice"}',
        b'{"type": "contact.queued", "event_id": "x3", "ts": "yesterday at noon",'
        b' "contact_id": "bad-2", "queue": "billing"}',
        b'{"type": "contact.queued", "event_id": "x4", "ts": "2026-11-23T08:10:00",'
        b' "contact_id": "bad-3", "queue": "billing"}',
        b'{"type": "agent.state", "event_id": "x5", "ts": "2026-11-23T08:10:00Z",'
        b' "agent_id": "a-x", "state": "sleeping"}',
        b"[1, 2, 3]",
        b'{"unterminated": ',
    ]
    mixed: list[bytes] = []
    for i, line in enumerate(good):
        mixed.append(line)
        if i % 50 == 25:
            mixed.append(bad[(i // 50) % len(bad)])
    (HERE / "bad_lines.jsonl").write_bytes(b"\n".join(mixed) + b"\n")
    (HERE / "wfm_day.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in wfm_day()))


if __name__ == "__main__":
    main()
