"""The one settings object: environment variables with the prefix ``FLOORPULSE_``.

Nested values use JSON, e.g.
``FLOORPULSE_QUEUES='{"billing": {"sl_threshold_s": 30, "sl_target": 0.9}}'``.
Command-line flags override the environment by passing keyword arguments.
"""

from __future__ import annotations

import json
from datetime import time
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream.sentiment.config import SentimentSettings
from stream.wfm.config import WfmSettings


class QueueSettings(BaseModel):
    """Per-queue service-level definition and targets."""

    model_config = ConfigDict(frozen=True)

    sl_threshold_s: float = Field(default=20.0, gt=0)
    sl_target: float = Field(default=0.80, ge=0, le=1)
    # Tile turns amber below the target, red below target - amber_band.
    amber_band: float = Field(default=0.10, ge=0, le=1)
    # Abandons with a wait shorter than this are not counted at all (0: none).
    short_abandon_s: float = Field(default=0.0, ge=0)
    sl_definition: Literal[
        "abandons_against", "abandons_ignored", "abandons_for", "answered_only"
    ] = "abandons_against"


Role = Literal["viewer", "supervisor", "wfm", "qa", "admin"]


class TokenSettings(BaseModel):
    """Who a gateway token belongs to and what it may see (docs/alerts.md, "Access")."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=128)
    role: Role = "viewer"
    tenants: tuple[str, ...] | None = None  # None: every tenant
    queues: tuple[str, ...] | None = None  # None: every queue


class WebhookSettings(BaseModel):
    """Where alert transitions are POSTed (docs/alerts.md, "Delivery")."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(pattern=r"^https?://")
    format: Literal["json", "slack"] = "json"
    audiences: tuple[str, ...] | None = None  # None: every audience
    min_severity: Literal["info", "warning", "critical"] = "info"
    tenants: tuple[str, ...] | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOORPULSE_", frozen=True, extra="ignore")

    # Servers. When unset, `floorpulse up` starts the embedded broker / Redis and sets them.
    kafka_bootstrap: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    http_port: int = 8000
    embedded_kafka_port: int = 0  # 0: pick a free port
    embedded_redis_port: int = 0

    # Topics
    topic_events: str = "floorpulse.events"
    topic_dead_letters: str = "floorpulse.dead-letters"
    topic_intervals: str = "floorpulse.intervals"
    topic_alerts: str = "floorpulse.alerts"
    # QA queue events (flags from the worker, actions from QA), keyed tenant|contact, and the
    # internal topic of queued contacts keyed tenant|customer (repeat customers);
    # docs/sentiment.md
    topic_qa: str = "floorpulse.qa"
    topic_qa_customers: str = "floorpulse.qa-customers"
    topic_partitions: int = Field(default=4, ge=1)
    app_id: str = "floorpulse"

    # The center
    timezone: str = "UTC"
    queues: dict[str, QueueSettings] = Field(default_factory=dict)
    default_queue: QueueSettings = QueueSettings()
    allowed_lateness_s: float = Field(default=7200.0, ge=0)
    # The center's day starts here (24/7 centers often use 06:00); a multiple of 15 min.
    day_start: str = Field(default="00:00", pattern=r"^([01][0-9]|2[0-3]):(00|15|30|45)$")
    rolling_minutes: int = Field(default=30, ge=1, le=24 * 60)
    interval_retention_days: int = Field(default=35, ge=1)
    sentiment: SentimentSettings = SentimentSettings()  # docs/sentiment.md
    wfm: WfmSettings = WfmSettings()  # adherence and intraday, docs/metrics.md section 5

    # Worker
    batch_max: int = Field(default=2000, ge=1)
    batch_within_s: float = Field(default=0.02, gt=0)
    fetch_wait_ms: int = Field(default=20, ge=1)
    # Messages the worker holds read ahead (Faust's stream buffer): batched
    # producers send ~100 KB messages, so this bounds the RSS of a catch-up.
    read_ahead_messages: int = Field(default=1024, ge=2)
    # ... and at most this many bytes of the events topic (one message is always let in)
    read_ahead_bytes: int = Field(default=4 << 20, ge=1)
    # In a catch-up, a partition more than this much stream time ahead of the slowest one
    # still receiving messages waits for it (0: never): bounds the state kept for the
    # intervals that cannot close yet (stream/alignment.py)
    partition_skew_max_s: float = Field(default=3600.0, ge=0)
    session_timeout_s: float = Field(default=10.0, gt=0)
    # At most this often, from the start of one turn to the next, the worker publishes what
    # changed: 8 times a second, so that fresh figures are on Redis within 0.125 s, and a
    # wallboard's 0.25 s (client_update_interval_s below) is every second publication. The
    # gateway also holds a change that came early for a client at most this long past the
    # client's due time, waiting for the next publication (gateway/pacing.py).
    publish_interval_s: float = Field(default=0.125, gt=0)
    # Publish at least this often even when nothing changed, so pages can tell a quiet
    # center from a stopped pipeline.
    heartbeat_s: float = Field(default=2.0, gt=0)
    data_dir: str = ".floorpulse"

    # Redis layout
    redis_prefix: str = "floorpulse"

    # Alerts: the rules file (TOML, docs/alerts.md); unset: the shipped default rules
    rules_file: str | None = None
    # The worker evaluates instants of stream time within this of the wall clock, before or
    # after (0: every instant); history is for `floorpulse backtest` (docs/alerts.md)
    alerts_live_window_s: float = Field(default=3600.0, ge=0)
    webhooks: tuple[WebhookSettings, ...] = ()

    # Gateway
    # A client is sent what changed about once per its update interval, from one send to
    # the next: this one, unless it asks for its own (`interval_s` in its subscription,
    # docs/live-state.md) of at least client_min_update_interval_s (and at most 5 s). The
    # sends are aligned to the publications (gateway/pacing.py): a publication that comes
    # once the interval has elapsed (less a tenth of it) goes at once, an earlier one waits
    # for the next that does (at most publish_interval_s past the due time). So a client
    # whose interval is a multiple of publish_interval_s gets every n-th publication as it
    # arrives (the default 0.25 s: every second one, 4 updates a second, enough for a
    # wallboard), one with a shorter interval every publication (a supervisor's screen, or
    # the latency benchmark, asks for 0.08 s), and one in between the first publication
    # past its interval (0.3 s: every third).
    client_update_interval_s: float = Field(default=0.25, gt=0)
    client_min_update_interval_s: float = Field(default=0.05, gt=0)
    client_max_pending_s: float = Field(default=10.0, gt=0)
    # Access: tokens here and/or in a JSON file ({"TOKEN": {"name": ..., "role": ...}}),
    # read again when it changes (to issue or revoke a token, edit the file).
    tokens: dict[str, TokenSettings] = Field(default_factory=dict)
    tokens_file: str | None = None
    # Origins allowed to open the WebSocket ("*": any); empty: the gateway's own host only
    allowed_origins: tuple[str, ...] = ()
    client_messages_per_s: float = Field(default=5.0, gt=0)  # per client, burst of 10

    def to_env(self) -> dict[str, str]:
        """These settings as ``FLOORPULSE_*`` environment variables (for child processes)."""
        env: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            key = f"FLOORPULSE_{name.upper()}"
            env[key] = value if isinstance(value, str) else json.dumps(value)
        return env

    @model_validator(mode="after")
    def _default_interval_allowed(self) -> Settings:
        if self.client_update_interval_s < self.client_min_update_interval_s:
            raise ValueError("client_update_interval_s must be at least "
                             "client_min_update_interval_s")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def queue(self, name: str) -> QueueSettings:
        return self.queues.get(name, self.default_queue)

    @property
    def day_start_time(self) -> time:
        hours, minutes = self.day_start.split(":")
        return time(int(hours), int(minutes))

    def require_servers(self) -> tuple[str, str]:
        if not self.kafka_bootstrap or not self.redis_url:
            raise RuntimeError(
                "FLOORPULSE_KAFKA_BOOTSTRAP and FLOORPULSE_REDIS_URL must be set "
                "(or run `floorpulse up`, which starts embedded ones)"
            )
        return self.kafka_bootstrap, self.redis_url

    # Redis keys and channels, per tenant
    def snapshot_key(self, tenant: str) -> str:
        return f"{self.redis_prefix}:{tenant}:snapshot"

    def snapshot_seq_key(self, tenant: str) -> str:
        """The ``seq`` of the stored snapshot, written with it (a writer that wrote that
        one need not read it back)."""
        return f"{self.redis_prefix}:{tenant}:snapshot:seq"

    def updates_channel(self, tenant: str) -> str:
        return f"{self.redis_prefix}:{tenant}:updates"

    @property
    def tenants_key(self) -> str:
        return f"{self.redis_prefix}:tenants"

    @property
    def progress_key(self) -> str:
        return f"{self.redis_prefix}:progress"

    def view_key(self, tenant: str, partition: int) -> str:
        """What one partition contributes to the tenant's figures (written by its owner)."""
        return f"{self.redis_prefix}:{tenant}:view:{partition}"

    def closed_key(self, tenant: str) -> str:
        """Intervals starting before this time (epoch ms) are closed."""
        return f"{self.redis_prefix}:{tenant}:closed-until"

    def intervals_key(self, tenant: str) -> str:
        """Closed interval rows: field ``queue|interval_start`` -> row JSON."""
        return f"{self.redis_prefix}:{tenant}:intervals"

    def intervals_index_key(self, tenant: str) -> str:
        """The same fields, scored by interval start (for the retention)."""
        return f"{self.redis_prefix}:{tenant}:intervals:index"

    def alerts_key(self, tenant: str) -> str:
        """Open alerts: field alert id -> its latest transition (JSON)."""
        return f"{self.redis_prefix}:{tenant}:alerts"

    def alerts_channel(self, tenant: str) -> str:
        """Every alert transition of the tenant, as it happens (JSON)."""
        return f"{self.redis_prefix}:{tenant}:alerts:events"

    def alert_engine_key(self, tenant: str) -> str:
        """The tenant's alert engine state (``AlertEngine.dump()``), for restarts."""
        return f"{self.redis_prefix}:{tenant}:alerts:engine"

    @property
    def alert_acks_stream(self) -> str:
        """A Redis stream of acknowledgements from the gateway: fields ``tenant``,
        ``alert_id``, ``who``, ``role``, ``comment``, ``at_ms`` (wall clock)."""
        return f"{self.redis_prefix}:alert-acks"

    @property
    def alert_acks_read_key(self) -> str:
        """The id of the last acknowledgement the worker has applied (in the stream above)."""
        return f"{self.redis_prefix}:alert-acks:read"

    @property
    def webhook_stats_key(self) -> str:
        """Webhook delivery counters: ``sent``, ``failed``, ``retries``, ``last_error``."""
        return f"{self.redis_prefix}:webhooks"

    # QA queue (docs/sentiment.md, "QA queue")
    def qa_key(self, tenant: str) -> str:
        """The QA queue's items: field contact id -> item (JSON)."""
        return f"{self.redis_prefix}:{tenant}:qa"

    def qa_index_key(self, tenant: str) -> str:
        """The same contact ids, scored by the time they were flagged (newest first)."""
        return f"{self.redis_prefix}:{tenant}:qa:index"

    def qa_channel(self, tenant: str) -> str:
        """Every changed item of the tenant's QA queue, and refused actions (JSON)."""
        return f"{self.redis_prefix}:{tenant}:qa:events"

    @property
    def qa_actions_stream(self) -> str:
        """A Redis stream of QA actions from the gateway: fields ``tenant``, ``contact_id``,
        ``action``, ``who``, ``role``, ``note``, ``at_ms`` (wall clock)."""
        return f"{self.redis_prefix}:qa-actions"

    @property
    def qa_relayed_key(self) -> str:
        """The id of the last QA action the worker relayed to the QA topic."""
        return f"{self.redis_prefix}:qa-actions:relayed"

    def marker_key(self, marker: str) -> str:
        """Hash of the partitions on which the worker has processed a replay marker."""
        return f"{self.redis_prefix}:marker:{marker}"
