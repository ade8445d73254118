"""Who a client is and what it may see and do: tokens, roles, origins, message rate.

A client opens ``/ws?token=TOKEN``. The token names a :class:`Grant`: a person (``name``), a
role, and optionally the tenants and queues it is limited to. Tokens come from
``settings.tokens`` and from ``settings.tokens_file`` (a JSON object token -> grant), which
:class:`TokenStore` reads again whenever the file changes: adding an entry issues a token,
removing one revokes it (docs/alerts.md, "Access").

When no token is configured at all, every client is :data:`ANONYMOUS`: a viewer of every
tenant (figures, no alerts).

Roles and the alert audiences they see (and may acknowledge):

    viewer      none (figures only)
    supervisor  supervisor
    wfm         wfm
    qa          qa
    admin       every audience

No I/O here except :meth:`TokenStore.reload`, which reads the tokens file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import ValidationError

from gateway.state import DEFAULT_TENANT, Json, Subscription
from stream.settings import TokenSettings

logger = logging.getLogger(__name__)

ROLE_AUDIENCES: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "supervisor": frozenset({"supervisor"}),
    "wfm": frozenset({"wfm"}),
    "qa": frozenset({"qa"}),
}
ALL_AUDIENCES_ROLE = "admin"
RATE_BURST = 10  # client messages allowed at once before the rate applies


# ---------------------------------------------------------------------------------------------
# Grants


@dataclass(frozen=True)
class Grant:
    """What one token allows. ``tenants`` / ``queues``: ``None`` for all."""

    name: str
    role: str = "viewer"
    tenants: frozenset[str] | None = None
    queues: frozenset[str] | None = None
    anonymous: bool = False

    @classmethod
    def from_token(cls, token: TokenSettings) -> Grant:
        return cls(
            token.name, token.role,
            None if token.tenants is None else frozenset(token.tenants),
            None if token.queues is None else frozenset(token.queues),
        )

    @property
    def sees_alerts(self) -> bool:
        return self.role == ALL_AUDIENCES_ROLE or bool(ROLE_AUDIENCES.get(self.role))

    @property
    def can_acknowledge(self) -> bool:
        return self.sees_alerts

    def allows_audience(self, audience: Iterable[object]) -> bool:
        """Whether an alert for ``audience`` is for this role."""
        if self.role == ALL_AUDIENCES_ROLE:
            return True
        return not ROLE_AUDIENCES.get(self.role, frozenset()).isdisjoint(audience)

    def allows_tenant(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants

    @property
    def default_tenant(self) -> str:
        """The tenant of a subscription that names none."""
        if self.allows_tenant(DEFAULT_TENANT) or not self.tenants:
            return DEFAULT_TENANT
        return min(self.tenants)

    def restrict(self, subscription: Subscription) -> Subscription:
        """The subscription within this grant; ``ValueError`` when it asks for more.

        A grant limited to queues shows those queues (all of them when the subscription
        names none), the agents skilled for them, and no team entries.
        """
        if not self.allows_tenant(subscription.tenant):
            raise ValueError(f"tenant {subscription.tenant!r} is not allowed for this token "
                             f"(allowed: {', '.join(sorted(self.tenants or ()))})")
        if self.queues is None:
            return subscription
        outside = sorted(subscription.queues - self.queues)
        if outside:
            raise ValueError(f"queue(s) {', '.join(outside)} not allowed for this token "
                             f"(allowed: {', '.join(sorted(self.queues))})")
        if subscription.teams:
            raise ValueError("this token is limited to queues: subscribe by queue, not by team")
        return replace(subscription, queues=subscription.queues or self.queues, limited=True)

    def describe(self) -> Json:
        """The ``access`` message a client gets first."""
        audiences = (sorted({"supervisor", "wfm", "qa"}) if self.role == ALL_AUDIENCES_ROLE
                     else sorted(ROLE_AUDIENCES.get(self.role, ())))
        return {
            "type": "access", "name": self.name, "role": self.role,
            "anonymous": self.anonymous, "audiences": audiences,
            "can_acknowledge": self.can_acknowledge,
            "tenants": None if self.tenants is None else sorted(self.tenants),
            "queues": None if self.queues is None else sorted(self.queues),
        }


ANONYMOUS = Grant("anonymous", "viewer", anonymous=True)


def token_digest(token: str) -> str:
    """Tokens are kept and compared by digest, never by their text."""
    return hashlib.sha256(token.encode()).hexdigest()


def masked(token: str) -> str:
    """A token as it may appear in a log line."""
    return f"{token[:4]}…" if len(token) > 8 else "…"


# ---------------------------------------------------------------------------------------------
# The tokens file


def parse_tokens(raw: bytes, source: str) -> tuple[dict[str, Grant], list[str]]:
    """Grants by token digest from a tokens file, and the problems of the entries left out.

    Raises ``ValueError`` when the file as a whole is not a JSON object (a file being
    written, say): the caller keeps the tokens it had.
    """
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{source}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{source}: must be a JSON object of token -> grant")
    grants: dict[str, Grant] = {}
    problems: list[str] = []
    for token, entry in data.items():
        try:
            grants[token_digest(token)] = checked_grant(token, entry)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            problems.append(f"{source}: token {masked(token)}: {_one_line(exc)}")
    return grants, problems


def checked_grant(token: str, entry: object) -> Grant:
    if not token.strip():
        raise ValueError("empty token")
    settings = TokenSettings.model_validate(entry)
    for field in ("tenants", "queues"):
        if getattr(settings, field) == ():
            raise ValueError(f"{field}: an empty list allows nothing; leave it out for all")
    return Grant.from_token(settings)


def _one_line(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                         for e in exc.errors())
    return str(exc)


@dataclass(frozen=True)
class TokenChanges:
    """Digests whose grant went away (revoked) or changed, after a reload."""

    revoked: frozenset[str] = frozenset()
    changed: frozenset[str] = frozenset()


class TokenStore:
    """The grants of ``settings.tokens`` and of the tokens file, by token digest."""

    def __init__(self, tokens: Mapping[str, TokenSettings], path: str | None) -> None:
        self.path = path
        self.required = bool(tokens) or path is not None
        self._static: dict[str, Grant] = {}
        for token, settings in tokens.items():
            try:
                self._static[token_digest(token)] = checked_grant(token, settings.model_dump())
            except ValueError as exc:
                logger.error("FLOORPULSE_TOKENS: token %s left out: %s", masked(token),
                             _one_line(exc))
        self._from_file: dict[str, Grant] = {}
        self._grants = dict(self._static)
        self._stamp: tuple[int, int, int] | None = None
        self._missing_logged = False

    def __len__(self) -> int:
        return len(self._grants)

    def lookup(self, token: str | None) -> tuple[Grant, str] | None:
        """The grant of ``token`` and its digest; ``ANONYMOUS`` when no token is configured."""
        if not self.required:
            return ANONYMOUS, ""
        if not token:
            return None
        digest = token_digest(token)
        grant = self._grants.get(digest)
        return None if grant is None else (grant, digest)

    def reload(self) -> TokenChanges:
        """Read the tokens file again if it changed; what was revoked or changed."""
        if self.path is None:
            return TokenChanges()
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing_logged:
                logger.warning("tokens file %s not found: only FLOORPULSE_TOKENS are valid",
                               self.path)
                self._missing_logged = True
            if self._stamp == (0, 0, 0):
                return TokenChanges()
            self._stamp = (0, 0, 0)
            return self._take({})
        except OSError as exc:
            logger.error("tokens file %s: %s; keeping the tokens read before", self.path, exc)
            return TokenChanges()
        self._missing_logged = False
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp == self._stamp:
            return TokenChanges()
        self._stamp = stamp
        try:
            with open(self.path, "rb") as file:
                raw = file.read()
            grants, problems = parse_tokens(raw, self.path)
        except (OSError, ValueError) as exc:
            logger.error("%s; keeping the tokens read before", exc)
            return TokenChanges()
        for problem in problems:
            logger.error("%s (left out)", problem)
        changes = self._take(grants)
        logger.info("tokens file %s read: %d token(s); %d revoked, %d changed", self.path,
                    len(grants), len(changes.revoked), len(changes.changed))
        return changes

    def _take(self, from_file: dict[str, Grant]) -> TokenChanges:
        old = self._grants
        self._from_file = from_file
        self._grants = {**self._static, **from_file}
        revoked = frozenset(d for d in old if d not in self._grants)
        changed = frozenset(d for d in old if d in self._grants and self._grants[d] != old[d])
        return TokenChanges(revoked, changed)


# ---------------------------------------------------------------------------------------------
# Origin and rate


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """Whether a WebSocket from a page of ``origin`` may connect.

    No ``Origin`` header (a client that is not a browser): yes. Otherwise the gateway's own
    origin (the ``Host`` the browser connected to), any origin listed in ``allowed``, or any
    at all when ``allowed`` holds ``"*"``.
    """
    if origin is None:
        return True
    listed = {entry.strip().rstrip("/").lower() for entry in allowed}
    normal = origin.strip().rstrip("/").lower()
    if "*" in listed or normal in listed:
        return True
    parts = urlsplit(normal)
    return (parts.scheme in ("http", "https") and bool(host)
            and parts.netloc == (host or "").strip().lower())


class RateLimit:
    """A token bucket: ``rate`` messages a second, up to ``burst`` at once."""

    def __init__(self, rate: float, burst: int = RATE_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.allowance = float(burst)
        self.last = clock()

    def take(self) -> bool:
        now = self.clock()
        self.allowance = min(self.burst, self.allowance + (now - self.last) * self.rate)
        self.last = now
        if self.allowance < 1.0:
            return False
        self.allowance -= 1.0
        return True
