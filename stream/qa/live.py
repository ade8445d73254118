"""Flagged contacts still in progress, as the alert rules see them.

The live snapshot has a ``flagged_contacts`` section (docs/live-state.md): contact id ->
``{"queue", "agent", "reasons", "flagged_epoch"}`` for every flagged contact still in
progress (waiting, or with an agent). Two metrics read it, so that a rule in the alert
rules file can tell supervisors to step in while the customer is still there
(``flagged-customer-on-contact`` in the shipped defaults):

- ``agent.flagged_contact_s``: per agent with a flagged customer, seconds since the flag;
  the scope's ``reason`` is the contact's id (one alert per contact; it clears when the
  contact ends);
- ``queue.flagged_in_progress``: flagged contacts in progress per queue.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stream.alerts.metrics import Metric, Reading, Scope, Snapshot, register

SECTION = "flagged_contacts"


def _entries(snapshot: Snapshot) -> Iterator[tuple[str, Mapping[str, Any]]]:
    entries = snapshot.get(SECTION) or {}
    for contact in sorted(entries):
        entry = entries[contact]
        if isinstance(entry, Mapping):
            yield str(contact), entry


def _agent_flagged(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
    tenant = str(snapshot.get("tenant") or "default")
    agents = snapshot.get("agents") or {}
    for contact, entry in _entries(snapshot):
        agent = entry.get("agent")
        if not isinstance(agent, str):
            continue
        profile = agents.get(agent) if isinstance(agents, Mapping) else None
        team = profile.get("team") if isinstance(profile, Mapping) else None
        since = entry.get("flagged_epoch")
        seconds = (max(0.0, now_ms / 1000 - float(since))
                   if isinstance(since, int | float) else 0.0)
        yield Reading(Scope(tenant, team=None if team is None else str(team), agent=agent,
                            reason=contact), seconds)


def _queue_flagged(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
    tenant = str(snapshot.get("tenant") or "default")
    counts: dict[str, int] = {}
    for _, entry in _entries(snapshot):
        queue = entry.get("queue")
        if isinstance(queue, str):
            counts[queue] = counts.get(queue, 0) + 1
    for queue in sorted(counts):
        yield Reading(Scope(tenant, queue=queue), float(counts[queue]))


for _metric in (
    Metric("agent.flagged_contact_s", "agent", "seconds", _agent_flagged,
           "seconds since the agent's current contact was flagged for QA (scope reason: the "
           "contact id); no reading once the contact ends"),
    Metric("queue.flagged_in_progress", "queue", "count", _queue_flagged,
           "flagged contacts still in progress in the queue"),
):
    register(_metric)
