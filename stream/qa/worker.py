"""QA plumbing in the worker: flags out of the event processor, the repeat-customer index, the
QA queue in Redis, and QA actions from the gateway.

Three parts, all thin around the pure modules of :mod:`stream.qa`:

- :class:`QaFlags` is called by the event processor (stream/agents/process_events.py): it
  applies repeat signals, and after each batch evaluates the flag rules, sends the QA
  events and the queued customers, and writes each changed contact's QA state to the
  ``partition_state`` table with the contact, so a restart rebuilds it exactly;
- :func:`index_customers` is the repeat-customer agent's step (stream/qa/customers.py), a
  message of queued contacts at a time;
- :class:`QaQueueStore` folds QA topic events into Redis (items, newest-first index, a
  channel for the gateway), and :meth:`QaQueueStore.relay_actions` moves the gateway's QA
  actions from their Redis stream onto the QA topic.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from stream.events import Rejected, contact_key
from stream.metrics.partition import PartitionState
from stream.partitioner import partition_for
from stream.qa.contact import ContactQaStore, repeat_signal
from stream.qa.customers import CustomerContacts, repeat_message
from stream.qa.queue import fold
from stream.settings import Settings

logger = logging.getLogger(__name__)

QA_KIND = "qa"  # partition_state keys ``tenant|qa|contact``
SIGNAL_HEADER = "floorpulse-signal"  # events-topic messages that carry a repeat signal
REPEAT_SIGNAL = "repeat"
RELAY_BATCH = 200

Send = Callable[[bytes, bytes], Awaitable[Awaitable[Any]]]
Record = tuple[int, bytes | None, bytes]  # (partition, key, value)
# Sends records in record batches; returns the futures of their acknowledgements.
SendRecords = Callable[[list[Record]], Awaitable[list[Awaitable[Any]]]]


def qa_key(tenant: str, contact_id: str) -> bytes:
    return f"{tenant}|{QA_KIND}|{contact_id}".encode()


def customer_key(tenant: str, customer_id: str) -> bytes:
    return f"{tenant}|{customer_id}".encode()


class QaFlags:
    """The event processor's QA hooks (one instance per worker)."""

    def __init__(self, send_qa: SendRecords, send_customers: SendRecords,
                 partitions: int) -> None:
        self.send_qa = send_qa
        self.send_customers = send_customers
        self.partitions = partitions

    @staticmethod
    def store(state: PartitionState) -> ContactQaStore | None:
        return state.qa

    @staticmethod
    def apply_signals(state: PartitionState, value: bytes) -> list[Rejected]:
        """A message of repeat signals from the events topic (a JSON array of them, as
        :func:`signal_messages` sends, or one); the ones refused, with why."""
        store = state.qa
        if store is None:
            return []
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return [Rejected(reason=f"bad repeat signal: {exc}", raw=value)]
        many = isinstance(data, list)
        refused: list[Rejected] = []
        for i, item in enumerate(data if many else [data]):
            try:
                key, repeat = repeat_signal(item)
            except ValueError as exc:
                refused.append(Rejected(reason=f"bad repeat signal: {exc}",
                                        raw=orjson.dumps(item) if many else value,
                                        index=i if many else None))
                continue
            store.apply_repeat(key, repeat)
        return refused

    async def after_batch(self, states: Mapping[int, PartitionState]) -> list[Awaitable[Any]]:
        """Evaluate the flags of the contacts the batch touched; send QA events and queued
        customers. Returns the futures that resolve once the broker has them."""
        partitions = self.partitions
        flags: list[Record] = []
        # the queued contacts, one message per partition of the customers topic
        customers: dict[int, list[list[object]]] = {}
        for state in states.values():
            store = state.qa
            if store is None:
                continue
            events, tenants = store.evaluate(state.contacts)
            state.dirty_tenants.update(tenants)
            for event in events:
                key = contact_key(str(event["tenant"]), str(event["contact_id"]))
                flags.append((partition_for(key, partitions), key, orjson.dumps(event)))
            for tenant, customer, contact, ts in store.take_customers():
                partition = partition_for(customer_key(tenant, customer), partitions)
                customers.setdefault(partition, []).append([tenant, customer, contact, ts])
        sent = await self.send_qa(flags) if flags else []
        if customers:
            sent.extend(await self.send_customers(
                [(p, None, orjson.dumps(records)) for p, records in customers.items()]))
        return sent

    @staticmethod
    def persist(partition: int, state: PartitionState,
                put: Callable[[int, bytes, bytes], None]) -> None:
        store = state.qa
        if store is None:
            return
        for tenant, contact in store.dirty:
            qa = store.contacts.get((tenant, contact))
            if qa is not None:
                put(partition, qa_key(tenant, contact), orjson.dumps(qa.dump()))
        store.dirty.clear()

    @staticmethod
    def load(state: PartitionState, tenant: str, contact: str, value: bytes) -> None:
        if state.qa is not None:
            state.qa.load(tenant, contact, orjson.loads(value))

    @staticmethod
    def restored(state: PartitionState) -> None:
        if state.qa is not None:
            state.qa.restore_live(state.contacts)

    @staticmethod
    def forget(partition: int, state: PartitionState, keys: Iterable[tuple[str, str]],
               delete: Callable[[int, bytes], None]) -> None:
        if state.qa is None:
            return
        for tenant, contact in state.qa.forget(keys, state.contacts):
            delete(partition, qa_key(tenant, contact))


# ------------------------------------------------------------------- repeat customers
def index_customers(value: bytes, get: Callable[[bytes], bytes | None],
                    put: Callable[[bytes, bytes], None], window_ms: int, lateness_ms: int,
                    partitions: int) -> tuple[list[Record], int]:
    """One message of the customers topic (the queued contacts of a batch on one partition,
    ``[[tenant, customer, contact, queued ms], ...]``): each customer's table value is read
    with ``get`` and written back with ``put``. Returns the repeat signals to send, as
    ``(partition, key, value)`` of the events topic, and the latest queued time met."""
    signals: list[Record] = []
    latest = 0
    for tenant, customer, contact, queued_ms in orjson.loads(value):
        key = customer_key(str(tenant), str(customer))
        stored, found = index_customer(get(key), str(tenant), str(contact), int(queued_ms),
                                       window_ms, lateness_ms, partitions)
        put(key, stored)
        signals.extend(found)
        latest = max(latest, int(queued_ms))
    return signals, latest


def signal_messages(signals: Iterable[Record]) -> list[Record]:
    """Repeat signals as one message per partition of the events topic: a JSON array of
    them, in the order given (a message costs the worker more than a signal)."""
    by_partition: dict[int, list[bytes]] = {}
    for partition, _, value in signals:
        by_partition.setdefault(partition, []).append(value)
    return [(partition, None, b"[" + b",".join(values) + b"]")
            for partition, values in by_partition.items()]


def stale_customers(items: Iterable[tuple[bytes, bytes]], before_ms: int) -> list[bytes]:
    """Keys of the customers whose latest contact was queued before ``before_ms``: once that
    is the stream time less the repeat window and the lateness, no contact still to come can
    have one of theirs as its previous contact, and the table forgets them (else it keeps
    a key for every customer ever seen)."""
    return [key for key, value in items
            if CustomerContacts.latest(orjson.loads(value)) < before_ms]


def index_customer(stored: bytes | None, tenant: str, contact: str, queued_ms: int,
                   window_ms: int, lateness_ms: int, partitions: int) -> tuple[bytes, list[Record]]:
    """One queued contact of a customer: the customer's new table value and the repeat
    signals to send."""
    contacts = CustomerContacts.load(orjson.loads(stored) if stored else None)
    changes = contacts.add(contact, queued_ms, window_ms)
    latest = max(contacts.contacts.values())
    contacts.prune(latest - window_ms - lateness_ms)
    out: list[Record] = []
    for cid, repeat in changes:
        key = contact_key(tenant, cid)
        out.append((partition_for(key, partitions), key,
                    orjson.dumps(repeat_message(tenant, cid, repeat))))
    return orjson.dumps(contacts.dump()), out


# ------------------------------------------------------------------------ QA queue
def put_item(pipe: Any, settings: Settings, item: Mapping[str, Any]) -> None:
    """Queue the writes of one item on a Redis pipeline: the item, its place in the index,
    its tenant, and the change on the tenant's QA channel."""
    tenant, contact = str(item["tenant"]), str(item["contact_id"])
    pipe.hset(settings.qa_key(tenant), contact, orjson.dumps(item))
    pipe.zadd(settings.qa_index_key(tenant), {contact: int(item.get("flagged_at_ms") or 0)})
    pipe.sadd(settings.tenants_key, tenant)
    pipe.publish(settings.qa_channel(tenant), orjson.dumps({"type": "qa_item", "item": item}))


class QaQueueStore:
    """The QA queue in Redis (docs/sentiment.md, "Redis")."""

    def __init__(self, settings: Settings, client: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = client
        self.refused = 0  # actions refused (each told on the tenant's QA channel)
        self.skipped = 0  # events the fold could not take

    async def apply(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Fold QA topic events, in their order, into their items; publish each changed item
        (and each refusal). An event the fold cannot take (not a QA event) is logged and
        counted in ``skipped``; the others go on.

        Per tenant, read, fold and write are one optimistic transaction (``WATCH`` on the
        tenant's items): when someone else writes them in between (``floorpulse
        qa-rebuild``, another worker), the events are folded again into what they wrote."""
        by_tenant: dict[str, list[Mapping[str, Any]]] = {}
        for event in events:
            try:
                by_tenant.setdefault(str(event["tenant"]), []).append(event)
            except (KeyError, TypeError) as exc:
                self._skip(exc)
        for tenant, tenant_events in by_tenant.items():
            await self._apply_tenant(tenant, tenant_events)

    def _skip(self, exc: Exception) -> None:
        self.skipped += 1
        logger.warning("QA topic: event not folded: %r", exc)

    async def _apply_tenant(self, tenant: str, events: list[Mapping[str, Any]]) -> None:
        s = self.settings
        contacts = list({str(event.get("contact_id")): None for event in events})
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(s.qa_key(tenant))
                    raw = await pipe.hmget(s.qa_key(tenant), contacts)
                    stored = {c: orjson.loads(v) for c, v in zip(contacts, raw, strict=True) if v}
                    items = dict(stored)
                    refusals: list[dict[str, object]] = []
                    for event in events:
                        contact = str(event.get("contact_id"))
                        try:
                            new, refusal = fold(items.get(contact), event)
                        except (KeyError, TypeError, ValueError) as exc:
                            self._skip(exc)
                            continue
                        if new is not None:
                            items[contact] = new
                        if refusal is not None and event.get("kind") == "action":
                            refusals.append({
                                "type": "qa_refused", "tenant": tenant, "contact_id": contact,
                                "action": event.get("action"), "who": event.get("who"),
                                "reason": refusal})
                    pipe.multi()  # type: ignore[no-untyped-call]
                    for contact, item in items.items():
                        if item != stored.get(contact):
                            put_item(pipe, s, item)
                    for refused in refusals:
                        pipe.publish(s.qa_channel(tenant), orjson.dumps(refused))
                    await pipe.execute()
                except WatchError:
                    continue
                self.refused += len(refusals)
                return

    async def relay_actions(self, send: Send) -> int:
        """Move QA actions from the gateway's Redis stream to the QA topic (after the last
        one relayed). An action relayed twice (a crash between sending and recording) is
        applied once: the fold ignores an action id it has seen."""
        s = self.settings
        last: Any = await self.redis.get(s.qa_relayed_key)
        start = last.decode() if isinstance(last, bytes) else str(last or "0-0")
        found: Any = await self.redis.xread({s.qa_actions_stream: start}, count=RELAY_BATCH)
        if not found:
            return 0
        futures = []
        newest = start
        for entry_id, fields in found[0][1]:
            action_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            data = {(k.decode() if isinstance(k, bytes) else str(k)):
                    (v.decode() if isinstance(v, bytes) else str(v)) for k, v in fields.items()}
            try:
                event: dict[str, Any] = {"kind": "action", "tenant": data["tenant"],
                         "contact_id": data["contact_id"], "action": data["action"],
                         "who": data["who"], "role": data.get("role", ""),
                         "note": data.get("note") or None, "at_ms": int(data["at_ms"]),
                         "action_id": action_id}
            except (KeyError, ValueError):
                logger.warning("QA action %s is incomplete; skipped", action_id)
            else:
                futures.append(await send(contact_key(data["tenant"], data["contact_id"]),
                                          orjson.dumps(event)))
            newest = action_id
        for future in futures:
            await future
        await self.redis.set(s.qa_relayed_key, newest)
        return len(futures)
