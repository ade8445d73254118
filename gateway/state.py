"""The gateway's pure logic: live state per tenant, subscriptions, and per-client coalescing.

No I/O here. The shapes are those of ``docs/live-state.md``: a *snapshot* holds the
entries ``queues`` / ``teams`` / ``agents`` / ``intervals`` (name -> whole entry; an
``intervals`` entry is named by its queue) and scalar fields; an *update* holds only the
entries that changed, the names that went away in ``removed``, and the scalar fields. Entry
dicts are never mutated once received: state and pending updates share them and replace them
whole.
"""

from __future__ import annotations

import enum
import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

Json = dict[str, Any]

# adherence: by agent (shown with the agent); intraday: by queue (shown with the queue)
ENTRY_KINDS = ("queues", "teams", "agents", "intervals", "adherence", "intraday")
DEFAULT_TENANT = "default"
# The alphabet of stream.events.TenantName: tenants name Redis keys.
TENANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_FILTER_NAMES = 1000
MAX_NAME_LENGTH = 256
# The longest update interval a client may ask for (the shortest is a setting,
# client_min_update_interval_s).
MAX_UPDATE_INTERVAL_S = 5.0


class Outcome(enum.Enum):
    """What :meth:`TenantState.apply` did with an update."""

    APPLIED = "applied"
    STALE = "stale"  # seq <= current: already in the state
    GAP = "gap"  # seq > current + 1: updates were missed, re-read the snapshot


# ---------------------------------------------------------------------------------------------
# Shapes


def empty_snapshot(tenant: str) -> Json:
    return {"tenant": tenant, "seq": 0, "queues": {}, "teams": {}, "agents": {}}


def empty_removed() -> dict[str, list[str]]:
    return {kind: [] for kind in ENTRY_KINDS}


def _entries(message: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    value = message.get(kind)
    return value if isinstance(value, dict) else {}


def _removed(message: Mapping[str, Any], kind: str) -> list[str]:
    removed = message.get("removed")
    names = removed.get(kind) if isinstance(removed, dict) else None
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def _scalars(message: Mapping[str, Any]) -> Json:
    return {k: v for k, v in message.items() if k not in ENTRY_KINDS and k != "removed"}


def seq_of(message: Mapping[str, Any]) -> int:
    seq = message.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError("update without an integer seq")
    return seq


def normalize_snapshot(snapshot: Json, tenant: str) -> Json:
    """A snapshot with all entry kinds present as dicts and an integer ``seq``."""
    normal = _scalars(snapshot)
    normal.setdefault("tenant", tenant)
    if not isinstance(normal.get("seq"), int):
        normal["seq"] = 0
    for kind in ENTRY_KINDS:
        normal[kind] = dict(_entries(snapshot, kind))
    return normal


# ---------------------------------------------------------------------------------------------
# Live state of one tenant


@dataclass
class Change:
    """One change to a tenant's state, as broadcast to its clients.

    ``update`` has the contract's update shape. ``previous_agents`` holds, for every agent
    named in the update (changed or removed), its entry before the change (``None`` if new):
    a filtered client must be told to remove an agent that it was shown and no longer matches.
    """

    update: Json
    previous_agents: dict[str, Json | None] = field(default_factory=dict)


@dataclass
class TenantState:
    """The latest merged snapshot of one tenant."""

    snapshot: Json

    @classmethod
    def from_snapshot(cls, snapshot: Json, tenant: str) -> TenantState:
        return cls(normalize_snapshot(snapshot, tenant))

    @property
    def seq(self) -> int:
        seq: int = self.snapshot["seq"]
        return seq

    def apply(self, update: Json, *, force: bool = False) -> tuple[Outcome, Change | None]:
        """Merge ``update`` if its ``seq`` follows the state's (or always, with ``force``)."""
        seq = seq_of(update)
        if not force:
            if seq <= self.seq:
                return Outcome.STALE, None
            if seq != self.seq + 1:
                return Outcome.GAP, None
        previous: dict[str, Json | None] = {}
        agents = self.snapshot["agents"]
        for name in (*_entries(update, "agents"), *_removed(update, "agents")):
            previous[name] = agents.get(name)
        for kind in ENTRY_KINDS:
            entries = self.snapshot[kind]
            entries.update(_entries(update, kind))
            for name in _removed(update, kind):
                entries.pop(name, None)
        self.snapshot.update(_scalars(update))
        return Outcome.APPLIED, Change(update, previous)

    def replace(self, snapshot: Json) -> Change:
        """Take ``snapshot`` as the new state; the change is the difference as an update."""
        new = normalize_snapshot(snapshot, self.snapshot.get("tenant", DEFAULT_TENANT))
        old = self.snapshot
        self.snapshot = new
        update = diff_snapshots(old, new)
        previous: dict[str, Json | None] = {
            name: old["agents"].get(name)
            for name in (*update["agents"], *update["removed"]["agents"])
        }
        return Change(update, previous)


def diff_snapshots(old: Json, new: Json) -> Json:
    """The update that turns snapshot ``old`` into snapshot ``new``."""
    update = _scalars(new)
    update["removed"] = empty_removed()
    for kind in ENTRY_KINDS:
        old_entries, new_entries = _entries(old, kind), _entries(new, kind)
        update[kind] = {
            name: entry for name, entry in new_entries.items() if old_entries.get(name) != entry
        }
        update["removed"][kind] = [name for name in old_entries if name not in new_entries]
    return update


# ---------------------------------------------------------------------------------------------
# Subscriptions


@dataclass(frozen=True)
class Subscription:
    """What one client sees: a tenant, and optionally some queues and teams (empty = all).

    ``limited``: the client's token is limited to ``queues`` (``gateway.access``), so team
    entries, whose figures span queues, are not shown.
    """

    tenant: str = DEFAULT_TENANT
    queues: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    limited: bool = False

    @classmethod
    def build(cls, tenant: str | None, queues: Iterable[str], teams: Iterable[str],
              default_tenant: str = DEFAULT_TENANT) -> Subscription:
        tenant = tenant.strip() if tenant else default_tenant
        if not TENANT_RE.match(tenant):
            raise ValueError(f"invalid tenant name {tenant[:80]!r}")
        queue_set = _name_set(queues, "queues")
        team_set = _name_set(teams, "teams")
        return cls(tenant, queue_set, team_set)

    @property
    def filtered(self) -> bool:
        return bool(self.queues or self.teams)

    def shows_queue(self, name: str) -> bool:
        return not self.queues or name in self.queues

    def shows_team(self, name: str) -> bool:
        return not self.limited and (not self.teams or name in self.teams)

    def shows_agent(self, entry: Mapping[str, Any] | None) -> bool:
        """An agent skilled for a subscribed queue or in a subscribed team (no filter: all)."""
        if not self.filtered:
            return True
        if entry is None:
            return False
        if self.queues:
            skills = entry.get("queues")
            if isinstance(skills, list) and not self.queues.isdisjoint(
                s for s in skills if isinstance(s, str)
            ):
                return True
        return bool(self.teams) and entry.get("team") in self.teams

    def filter_snapshot(self, snapshot: Json) -> Json:
        """The snapshot restricted to this subscription (a new top-level dict).

        A queue's ``intervals`` entry is shown iff the queue is.
        """
        view = _scalars(snapshot)
        view["queues"] = _select(_entries(snapshot, "queues"), self.shows_queue)
        view["intervals"] = _select(_entries(snapshot, "intervals"), self.shows_queue)
        view["intraday"] = _select(_entries(snapshot, "intraday"), self.shows_queue)
        view["teams"] = _select(_entries(snapshot, "teams"), self.shows_team)
        adherence = _entries(snapshot, "adherence")
        view["adherence"] = (
            dict(adherence)
            if not self.filtered
            else {name: entry for name, entry in adherence.items() if self.shows_agent(entry)}
        )
        agents = _entries(snapshot, "agents")
        view["agents"] = (
            dict(agents)
            if not self.filtered
            else {name: entry for name, entry in agents.items() if self.shows_agent(entry)}
        )
        return view

    def filter_change(self, change: Change) -> Json:
        """The update as this client must see it.

        A changed agent that no longer matches becomes a removal if the client was shown it.
        """
        update = change.update
        if not self.filtered and not self.limited:
            return update
        view = _scalars(update)
        view["queues"] = _select(_entries(update, "queues"), self.shows_queue)
        view["intervals"] = _select(_entries(update, "intervals"), self.shows_queue)
        view["intraday"] = _select(_entries(update, "intraday"), self.shows_queue)
        view["teams"] = _select(_entries(update, "teams"), self.shows_team)
        view["adherence"] = {name: entry for name, entry in _entries(update, "adherence").items()
                             if self.shows_agent(entry)}
        removed = {
            "queues": [n for n in _removed(update, "queues") if self.shows_queue(n)],
            "intervals": [n for n in _removed(update, "intervals") if self.shows_queue(n)],
            "intraday": [n for n in _removed(update, "intraday") if self.shows_queue(n)],
            # an adherence entry's removal is passed on only with its agent's (a filtered
            # client keeps an entry of an agent who left the section until the agent goes)
            "adherence": [n for n in _removed(update, "adherence")
                          if self.shows_agent(change.previous_agents.get(n))],
            "teams": [n for n in _removed(update, "teams") if self.shows_team(n)],
            "agents": [
                n for n in _removed(update, "agents")
                if self.shows_agent(change.previous_agents.get(n))
            ],
        }
        agents: Json = {}
        for name, entry in _entries(update, "agents").items():
            if self.shows_agent(entry):
                agents[name] = entry
            elif self.shows_agent(change.previous_agents.get(name)):
                removed["agents"].append(name)
        view["agents"] = agents
        view["removed"] = removed
        return view


@dataclass(frozen=True)
class SubscribeRequest:
    """What a client asks for, in a ``subscribe`` message or the ``/ws`` URL query: a
    subscription and, optionally, how often it is sent updates (``interval_s``, seconds;
    ``None``: the gateway's default). Both forms are read here, and checked the same way.

    The interval is not part of the :class:`Subscription`: clients that see the same thing
    share one feed whatever their intervals.
    """

    subscription: Subscription
    interval_s: float | None = None

    @classmethod
    def from_query(cls, query: str, default_tenant: str = DEFAULT_TENANT, *,
                   min_interval_s: float) -> SubscribeRequest:
        """From a URL query: ``tenant=default&queues=billing,sales&teams=Team%20Blue`` and
        optionally ``interval_s=0.1``; raises ``ValueError`` if malformed."""
        params = parse_qs(query, keep_blank_values=True)

        def names(key: str) -> list[str]:
            return [name for value in params.get(key, []) for name in value.split(",")]

        def last(key: str) -> str | None:
            values = params.get(key, [])
            return values[-1] if values else None

        interval = (last("interval_s") or "").strip()  # absent or blank: the default
        return cls(Subscription.build(last("tenant"), names("queues"), names("teams"),
                                      default_tenant),
                   check_update_interval(_number(interval), min_interval_s) if interval
                   else None)

    @classmethod
    def from_message(cls, message: Mapping[str, Any], default_tenant: str = DEFAULT_TENANT,
                     *, min_interval_s: float) -> SubscribeRequest:
        """From a ``{"type": "subscribe", ...}`` message; raises ``ValueError`` if malformed."""
        tenant = message.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise ValueError("subscribe: tenant must be a string")
        lists = []
        for key in ("queues", "teams"):
            value = message.get(key)
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"subscribe: {key} must be a list of strings")
            lists.append(value)
        interval = message.get("interval_s")
        return cls(Subscription.build(tenant, lists[0], lists[1], default_tenant),
                   None if interval is None else check_update_interval(interval,
                                                                       min_interval_s))


def _number(text: str) -> float | str:
    """A URL parameter as a number, or the text itself (which the check refuses)."""
    try:
        return float(text)
    except ValueError:
        return text


def check_update_interval(value: object, min_s: float,
                          max_s: float = MAX_UPDATE_INTERVAL_S) -> float:
    """The update interval a client asks for, in seconds: a number from ``min_s`` to
    ``max_s``; anything else is a ``ValueError`` (never silently changed)."""
    if (not isinstance(value, int | float) or isinstance(value, bool)
            or not math.isfinite(value) or not min_s <= value <= max_s):
        raise ValueError(f"interval_s must be a number of seconds from {min_s:g} to "
                         f"{max_s:g}, not {repr(value)[:40]}")
    return float(value)


def _name_set(names: Iterable[str], what: str) -> frozenset[str]:
    result = frozenset(name.strip() for name in names if name.strip())
    if len(result) > MAX_FILTER_NAMES:
        raise ValueError(f"too many {what} (at most {MAX_FILTER_NAMES})")
    if any(len(name) > MAX_NAME_LENGTH for name in result):
        raise ValueError(f"a name in {what} is longer than {MAX_NAME_LENGTH} characters")
    return result


def _select(entries: Mapping[str, Any], keep: Any) -> Json:
    return {name: entry for name, entry in entries.items() if keep(name)}


# ---------------------------------------------------------------------------------------------
# Coalescing


def coalesce(pending: Json | None, update: Json) -> Json:
    """Merge ``update`` into a client's pending update, as if both had been applied in turn.

    ``pending`` (owned by the client) is modified and returned; ``update`` is not modified.
    A name is never both an entry and a removal: the later of the two wins.
    """
    if pending is None:
        pending = {kind: {} for kind in ENTRY_KINDS}
        pending["removed"] = empty_removed()
    pending.update(_scalars(update))
    removed: dict[str, list[str]] = pending["removed"]
    for kind in ENTRY_KINDS:
        entries: Json = pending[kind]
        changed = _entries(update, kind)
        gone = _removed(update, kind)
        if changed and removed[kind]:
            removed[kind] = [name for name in removed[kind] if name not in changed]
        entries.update(changed)
        for name in gone:
            entries.pop(name, None)
            if name not in removed[kind]:
                removed[kind].append(name)
    return pending


# ---------------------------------------------------------------------------------------------
# Feeds: the updates of one subscription, shared by the clients that have it

FEED_HISTORY = 64  # changes a feed keeps; a client further behind gets a snapshot


class Feed:
    """What the clients of one subscription are sent, built once for all of them.

    Each change is filtered for the subscription once (:meth:`push`), and kept numbered
    (``version``: changes pushed so far). A client remembers the version it was last sent;
    when its sender runs it asks for the message that brings it from there to now
    (:meth:`update_since`): the changes since then merged (:func:`coalesce`) and encoded
    once, and cached for every other client at the same version. So the cost of a change is
    one filter per subscription, the cost of a send one encode per subscription and version
    sent from, and a slow client costs nothing until it can take a message. A client more
    than ``history`` changes behind gets a snapshot instead (``None``).
    """

    def __init__(self, subscription: Subscription, history: int = FEED_HISTORY) -> None:
        self.subscription = subscription
        self.version = 0
        self.clients = 0  # how many clients have this subscription (the gateway's count)
        self._changes: deque[Json] = deque(maxlen=history)
        self._updates: dict[int, bytes] = {}  # version sent from -> message up to now
        self._snapshot: bytes | None = None  # the snapshot message at ``version``
        # when the latest change arrived (the event loop's clock; gateway/lag.py)
        self.arrived = 0.0

    def push(self, change: Change, arrived: float = 0.0) -> None:
        self._changes.append(self.subscription.filter_change(change))
        self.version += 1
        self.arrived = arrived
        self._updates.clear()
        self._snapshot = None

    def update_since(self, version: int) -> bytes | None:
        """The encoded update from ``version`` to now (``b""``: nothing new; ``None``: too
        far behind, send a snapshot)."""
        behind = self.version - version
        if behind <= 0:
            return b""
        if behind > len(self._changes):
            return None
        message = self._updates.get(version)
        if message is None:
            pending: Json | None = None
            changes = self._changes
            for index in range(len(changes) - behind, len(changes)):
                pending = coalesce(pending, changes[index])
            message = self._updates[version] = orjson.dumps(
                {"type": "update", "tenant": self.subscription.tenant, "data": pending})
        return message

    def snapshot(self, view: Callable[[Subscription], Json]) -> bytes:
        """The encoded snapshot message at ``version`` (``view``: the filtered state)."""
        if self._snapshot is None:
            self._snapshot = orjson.dumps({"type": "snapshot", "tenant": self.subscription.tenant,
                                           "data": view(self.subscription)})
        return self._snapshot


def apply_to_snapshot(snapshot: Json, update: Json) -> Json:
    """What a client does with an update: a new snapshot (used by tests and tools)."""
    state = TenantState.from_snapshot(snapshot, snapshot.get("tenant", DEFAULT_TENANT))
    state.apply(update, force=True)
    return state.snapshot
