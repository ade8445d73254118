"""The Faust app: topics, tables, the event agent and the publishing timer.

Reads top to bottom like a Faust example, but inside :func:`create_app` so that settings
come from the environment at start-up, not at import time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import faust
import orjson
import redis.asyncio as aioredis
from faust.exceptions import ConsumerNotStarted
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from redis.exceptions import RedisError

from stream.agents.process_events import EventProcessor
from stream.alert_worker import EVALUATOR_PARTITION, AlertWorker
from stream.alerts.rules import settings_config
from stream.inbox import IDLE_S, Alignment, Inbox, deliver_directly
from stream.metrics.partition import PartitionState
from stream.publisher import Publication, RedisPublisher, is_behind, turn_spacing
from stream.qa.worker import (
    REPEAT_SIGNAL,
    SIGNAL_HEADER,
    QaFlags,
    QaQueueStore,
    Record,
    SendRecords,
    index_customers,
    signal_messages,
    stale_customers,
)
from stream.report import calendar, new_partition_state
from stream.settings import Settings
from stream.tables.changelog import PartitionedTable, send_records, write_durably

logger = logging.getLogger(__name__)

CHANGELOG_BATCH_BYTES = 512 * 1024  # a batch's changelog writes go in few record batches
# Stream time between two sweeps of the repeat-customer table for customers no contact can
# find any more (stream/qa/worker.py, stale_customers).
CUSTOMER_SWEEP_MS = 6 * 3_600_000
# Objects allocated between two young collections of the garbage collector. The default
# (700) makes the collector run every ~100 events, and its older generations walk the whole
# live state (docs/performance.md, "Garbage collection").
GC_YOUNG_THRESHOLD = 50_000
# The same while the worker is behind (a catch-up or a replay: stream/publisher.py,
# is_behind). Then the state grows fast and most of what a young collection walks is
# state that outlives it, to be walked again by the older generations: in a replay of 1M
# events the collector took 2.7 s of ~29 at 50,000 and 0.4 s at 1,000,000 (one young
# collection of ~0.35 s). Live, such a pause would reach the wallboard.
GC_YOUNG_THRESHOLD_BEHIND = 1_000_000


def tune_gc() -> None:
    """Collect less often, and leave what exists at start-up out of every collection."""
    gc.collect()
    gc.freeze()
    collect_young_gc(behind=False)


def collect_young_gc(behind: bool) -> None:
    """Set the young generation's threshold for a worker that is (or is not) behind."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD_BEHIND if behind else GC_YOUNG_THRESHOLD,
                     older, oldest)


def lower_fetch_wait(fetch_wait_ms: int) -> None:
    """Faust fixes the consumer's fetch wait at 1,500 ms, which alone puts latency above a
    second (docs/performance.md); set ours on the consumer it creates."""
    cls: Any = faust_aiokafka.AIOKafkaConsumerThread
    original = getattr(cls, "_floorpulse_original", cls._create_worker_consumer)

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = fetch_wait_ms
        return consumer

    cls._floorpulse_original = original
    cls._create_worker_consumer = create_worker_consumer


async def track_produced_topics(app: faust.App, topics: Iterable[str]) -> None:
    """Have the producer keep metadata of every topic the worker writes to.

    aiokafka's producer refreshes metadata only for the topics it tracks, and a send to a
    topic it already knows from an earlier refresh of all topics does not track it. The
    next refresh (of the tracked topics only) then drops that topic, and a batch
    for it waits for a partition leader until the request timeout (Faust's: 20 min): a
    batch of dead letters stalled the worker so, its events unacknowledged."""
    producer: Any = app.producer
    client = producer._ensure_producer().client
    for topic in topics:
        await client.add_topic(topic)


def read_from_stored_progress(app: faust.App, topic: str,
                              resume: Callable[[], Mapping[int, int]]) -> None:
    """After a restore, read each owned partition of ``topic`` from the offset after its
    stored progress (``resume()``: partition -> next offset), not from the group's committed
    offset: the progress is written with the state it describes, while a committed offset
    can be behind it (messages skipped as done) or, after Faust drops messages in a
    rebalance, ahead of it (messages lost)."""
    cls: Any = faust_aiokafka.Consumer
    original = getattr(cls, "_floorpulse_original_seek", cls.seek_to_committed)

    async def seek_to_committed(self: Any) -> Mapping[TP, int]:
        offsets = dict(await original(self))
        if self.app is app:
            owned = self.assignment()
            stored = {TP(topic, partition): offset for partition, offset in resume().items()
                      if TP(topic, partition) in owned}
            if stored:
                # On the consumer's thread, where aiokafka's fetcher runs: Faust's ``seek``
                # seeks from this one, and raced the fetcher (a KeyError in its
                # ``fetched_records`` that stopped a worker after a rebalance).
                await self.seek_wait(stored)
                offsets.update(stored)
        return offsets

    cls._floorpulse_original_seek = original
    cls.seek_to_committed = seek_to_committed


def create_app(settings: Settings) -> tuple[faust.App, EventProcessor]:
    bootstrap, redis_url = settings.require_servers()
    lower_fetch_wait(settings.fetch_wait_ms)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=settings.data_dir,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(0.5, settings.session_timeout_s / 5),
        broker_commit_interval=1.0,
        producer_linger=0.005,
        producer_max_batch_size=CHANGELOG_BATCH_BYTES,
        stream_buffer_maxsize=settings.read_ahead_messages,
    )
    events_topic = app.topic(
        settings.topic_events, key_type=bytes, value_type=bytes,
        key_serializer="raw", value_serializer="raw",
        partitions=settings.topic_partitions, internal=False,
    )
    dead_letters_topic = app.topic(
        settings.topic_dead_letters, value_type=bytes, value_serializer="raw", partitions=1,
    )
    intervals_topic = app.topic(
        settings.topic_intervals, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=1,
    )
    alerts_topic = app.topic(
        settings.topic_alerts, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=1,
    )

    # One table per source partition's state: facts of contacts and agents, archived
    # contributions and progress (stream/agents/process_events.py says why one).
    partition_state = PartitionedTable(app.Table(
        "partition_state", key_type=bytes, value_type=bytes,  # bytes types: raw serializers
        partitions=settings.topic_partitions, default=None, recovery_buffer_size=10_000,
    ))

    async def send_dead_letter(value: bytes) -> Awaitable[Any]:
        """Hands the record to the producer; the returned future resolves once it is stored."""
        return await dead_letters_topic.send(value=value)

    async def send_interval(key: bytes, value: bytes) -> None:
        await intervals_topic.send(key=key, value=value)

    # The events topic skips Faust's per-message path (stream/inbox.py): the consumer
    # appends its messages to the inbox, and the processor takes them a batch at a time.
    inbox = Inbox(app, settings.read_ahead_messages, settings.read_ahead_bytes)

    async def seek(partition: int, offset: int) -> None:
        """Read ``partition`` again from ``offset`` (the processor's gap recovery). What the
        inbox holds of it is dropped (it comes again), and the seek runs on the consumer's
        own thread: aiokafka's fetcher runs there, and a seek from this thread raced it."""
        inbox.drop_partition(partition)
        await app.consumer.seek_wait({TP(settings.topic_events, partition): offset})

    # --- QA (docs/sentiment.md): flag events and actions, repeat customers ---------------
    qa_topic = app.topic(
        settings.topic_qa, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=settings.topic_partitions,
    )
    qa_customers_topic = app.topic(
        settings.topic_qa_customers, key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=settings.topic_partitions,
    )
    # tenant|customer -> that customer's contacts within the repeat window
    customer_index = PartitionedTable(app.Table(
        "customer_to_contacts", key_type=bytes, value_type=bytes,
        partitions=settings.topic_partitions, default=None,
    ), end_marker=True)  # keeps the embedded broker's end offset right (a lone last record)
    config = settings_config(settings.rules_file)  # alert rules and QA flag rules
    flag_rules = config.flags

    async def send_qa(key: bytes, value: bytes) -> Awaitable[Any]:
        return await qa_topic.send(key=key, value=value)

    def records_to(topic: str, headers: Sequence[tuple[str, bytes]] = ()) -> SendRecords:
        """Sends a batch's records to ``topic``, in record batches."""
        async def send(records: list[Record]) -> list[Awaitable[Any]]:
            producer: Any = app.producer
            return await send_records(producer._ensure_producer(), topic, records, headers)
        return send

    center = calendar(settings)
    processor = EventProcessor(
        lambda: new_partition_state(settings, center, flag_rules),
        partition_state, send_dead_letter, seek,
        QaFlags(records_to(settings.topic_qa), records_to(settings.topic_qa_customers),
                settings.topic_partitions),
    )
    read_from_stored_progress(app, settings.topic_events, processor.resume_offsets)
    publisher = RedisPublisher(settings, aioredis.from_url(redis_url), send_interval)

    async def send_alert(key: bytes, value: bytes) -> Awaitable[Any]:
        return await alerts_topic.send(key=key, value=value)

    alerts = AlertWorker(settings, publisher.redis, send_alert, lambda: processor.states,
                         config.rules)

    @app.task  # type: ignore[untyped-decorator]
    async def track_topics() -> None:
        # Every topic this worker writes to, the tables' changelogs included: after a
        # restart Faust's producer does not track them, and a changelog batch then waited
        # for a leader it never learnt.
        await track_produced_topics(app, (
            settings.topic_events, settings.topic_dead_letters, settings.topic_intervals,
            settings.topic_alerts, settings.topic_qa, settings.topic_qa_customers,
            partition_state.table.changelog_topic.get_topic_name(),
            customer_index.table.changelog_topic.get_topic_name()))

    app.topics.add(events_topic)
    deliver_directly(app, settings.topic_events, inbox)
    # In a catch-up, partitions far ahead of the slowest wait for it (stream/alignment.py).
    alignment = (Alignment(app, settings.topic_events, inbox,
                           round(settings.partition_skew_max_s * 1000))
                 if settings.partition_skew_max_s > 0 else None)

    @app.task  # type: ignore[untyped-decorator]
    async def process_events() -> None:
        # Without alignment, wait for messages as long as it takes; with it, look again at
        # least every IDLE_S / 2 even when none come: a partition held back must be let go
        # once the slowest has gone idle, and no batch may ever come to say so (the others
        # may have nothing more to read).
        first_within_s = IDLE_S / 2 if alignment is not None else None
        while not app.should_stop:
            batch = await inbox.take(settings.batch_max, settings.batch_within_s,
                                     first_within_s)
            if batch:
                await processor.process(batch)
                inbox.ack(batch)
            if alignment is not None:
                alignment.update({p: s.any_clock for p, s in processor.states.items()})

    repeat_window_ms = round(settings.sentiment.repeat_within_h * 3_600_000)
    lateness_ms = round(settings.allowed_lateness_s * 1000)

    send_signals = records_to(settings.topic_events, [(SIGNAL_HEADER, REPEAT_SIGNAL.encode())])

    @app.agent(qa_customers_topic)
    async def find_repeat_customers(stream: Any) -> None:
        """The queued contacts of customers, a batch at a time: each one's previous contact,
        and the repeat signals to the contacts' own partitions (stream/qa/customers.py).
        The batch's table writes and signals are acknowledged before its offsets are."""
        clocks: dict[int, int] = {}  # partition -> latest queued time met (stream time)
        swept_at = 0  # stream time of the last sweep of stale customers

        def sweep() -> None:
            """Forget the customers no coming contact can find, on each partition met."""
            owned: dict[int, list[tuple[bytes, bytes]]] = {p: [] for p in clocks}
            for key, value, partition in customer_index.items(set(clocks)):
                owned[partition].append((key, value))
            for partition, items in owned.items():
                before = clocks[partition] - repeat_window_ms - lateness_ms
                for key in stale_customers(items, before):
                    customer_index.delete(partition, key)

        async for batch in stream.take_events(settings.batch_max, settings.batch_within_s):
            signals: list[Record] = []
            for fevent in batch:
                msg = fevent.message

                def put(key: bytes, value: bytes, partition: int = msg.partition) -> None:
                    customer_index.put(partition, key, value)

                try:
                    found, latest = index_customers(
                        msg.value, customer_index.get, put, repeat_window_ms, lateness_ms,
                        settings.topic_partitions)
                except (ValueError, TypeError) as exc:  # our own topic: not expected
                    logger.warning("customers topic: message at %d/%d skipped: %r",
                                   msg.partition, msg.offset, exc)
                    continue
                signals.extend(found)
                clocks[msg.partition] = max(clocks.get(msg.partition, 0), latest)
            if clocks and max(clocks.values()) - swept_at >= CUSTOMER_SWEEP_MS:
                swept_at = max(clocks.values())
                sweep()
            sent = await send_signals(signal_messages(signals)) if signals else []
            await write_durably(customer_index, also=sent)

    qa_queue = QaQueueStore(settings, aioredis.from_url(redis_url))

    @app.agent(qa_topic)
    async def keep_qa_queue(stream: Any) -> None:
        """Fold QA events (flags, actions) into the QA queue in Redis (stream/qa/queue.py),
        a batch at a time: one transaction per tenant and batch."""
        async for batch in stream.take_events(settings.batch_max, settings.batch_within_s):
            events = []
            for fevent in batch:
                try:
                    events.append(orjson.loads(fevent.message.value))
                except orjson.JSONDecodeError:
                    logger.warning("QA topic: a value that is not JSON; skipped")
            await qa_queue.apply(events)

    @app.timer(0.2)  # type: ignore[untyped-decorator]
    async def relay_qa_actions() -> None:
        """QA actions from the gateway (a Redis stream) onto the QA topic."""
        try:
            await qa_queue.relay_actions(send_qa)
        except (RedisError, OSError) as exc:
            logger.warning("QA actions not relayed: %s", exc)

    @partition_state.table.on_recover  # type: ignore[untyped-decorator]
    async def rebuild_live_state() -> None:
        partitions = {
            tp.partition for tp in app.assignor.assigned_actives()
            if tp.topic == settings.topic_events
        }
        await processor.rebuild(partitions)
        processor.alerts = await alerts.assign(partitions)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def stop_evaluating_alerts(sender: faust.App, revoked: set[TP], **_: Any) -> None:
        """Awaited before the rebalance goes on (and after the batch in progress), so the
        next owner of the evaluator's partition loads everything this worker wrote."""
        if TP(settings.topic_events, EVALUATOR_PARTITION) in revoked:
            processor.alerts = None
            await alerts.release()

    @app.task  # type: ignore[untyped-decorator]
    async def publishing() -> None:
        """A turn every ``publish_interval_s``, measured from the start of one turn to the
        next (a turn's own time does not add to the interval, as with a timer that sleeps
        the interval after each), or less often while the processor is behind and turns
        compute long (``turn_spacing``). Behind, the garbage collector's young generation
        is longer too (``collect_young_gc``)."""
        interval = settings.publish_interval_s
        dropped_at = previous = time.monotonic()
        taken = inbox.taken
        was_behind = False
        while not app.should_stop:
            started = time.monotonic()
            busy = publisher.busy_s
            period, previous = started - previous, started
            taken_now, taken = inbox.taken - taken, inbox.taken
            behind = is_behind(backlog(), taken_now, period)
            if behind != was_behind:
                collect_young_gc(behind)
                was_behind = behind
            try:
                await publish_live_state()
                if started - dropped_at >= 60:
                    dropped_at = started
                    await publisher.drop_old_intervals(
                        {t for state in processor.states.values() for t in state.tenants()})
            except Exception:  # Redis away for a moment: try again at the next turn
                logger.exception("publishing failed")
            spacing = turn_spacing(interval, publisher.busy_s - busy, behind)
            await asyncio.sleep(max(0.0, spacing - (time.monotonic() - started)))

    def backlog() -> int:
        """Messages of the owned events partitions not processed yet, up to the partitions'
        ends as the last fetches saw them."""
        total = 0
        for partition in list(processor.states):
            try:
                end = app.consumer.highwater(TP(settings.topic_events, partition))
            except (AssertionError, KeyError, ConsumerNotStarted):  # not assigned (any more)
                continue
            if end is not None:
                prog = processor.progress.get(partition)
                total += max(0, end - (prog.offset + 1 if prog is not None else 0))
        return total

    async def publish_live_state() -> None:
        await publisher.load_closed(
            {t for state in processor.states.values() for t in state.tenants()})
        async with processor.lock:  # take only what the broker has acknowledged
            publication = prepare(processor.states)
        if publication is not None:
            try:  # Redis I/O without the lock: batches go on meanwhile
                await publisher.write(publication)
            except BaseException:
                processor.counters_changed = True  # every tenant again at the next turn
                for marker, partitions in publication.markers.items():
                    processor.markers.setdefault(marker, set()).update(partitions)
                raise
        await alerts.cycle(publisher.foreign_views)  # every turn: acknowledgements too

    def prepare(states: dict[int, PartitionState]) -> Publication | None:
        known = {t for state in states.values() for t in state.tenants()}
        now = time.time()
        if processor.counters_changed:
            tenants = set(known)
        else:
            tenants = {t for state in states.values() for t in state.dirty_tenants}
        tenants.update(t for t in known if publisher.due(t, now))
        if not tenants and not processor.markers:
            return None
        progress = ({p: (prog.processed, prog.dead_letters)
                     for p, prog in processor.progress.items()}
                    if processor.counters_changed else {})
        processor.counters_changed = False
        markers, processor.markers = processor.markers, {}
        return publisher.prepare(states, tenants, progress, markers)

    return app, processor


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Run the worker until SIGINT/SIGTERM."""
    app, _ = create_app(settings)
    level = getattr(logging, loglevel.upper(), logging.WARNING)

    @app.task  # type: ignore[untyped-decorator]
    async def reset_log_levels() -> None:
        """`faust worker` leaves the root logger at DEBUG once it has started, and the Kafka
        client then builds a debug record per request (docs/performance.md): reset it. And
        tune the garbage collector, once start-up is done."""
        tune_gc()
        logging.getLogger().setLevel(level)
        for named in list(logging.Logger.manager.loggerDict.values()):
            if isinstance(named, logging.Logger) and 0 < named.level < level:
                named.setLevel(logging.NOTSET)

    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    logging.getLogger().setLevel(level)
    worker.execute_from_commandline()
