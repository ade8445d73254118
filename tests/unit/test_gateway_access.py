"""Gateway access: grants and roles, the tokens file, origins, the message rate."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from gateway.access import (
    ANONYMOUS,
    Grant,
    RateLimit,
    TokenStore,
    origin_allowed,
    parse_tokens,
    token_digest,
)
from gateway.state import Subscription
from stream.settings import TokenSettings

ROLES = ("viewer", "supervisor", "wfm", "qa", "admin")


@pytest.mark.parametrize(("role", "sees"), [
    ("viewer", set()),
    ("supervisor", {"supervisor"}),
    ("wfm", {"wfm"}),
    ("qa", {"qa"}),
    ("admin", {"supervisor", "wfm", "qa"}),
])
def test_each_role_sees_its_audiences(role: str, sees: set[str]) -> None:
    grant = Grant("sam", role)
    assert {a for a in ("supervisor", "wfm", "qa") if grant.allows_audience([a])} == sees
    assert grant.sees_alerts == bool(sees) and grant.can_acknowledge == bool(sees)
    assert set(grant.describe()["audiences"]) == sees
    assert grant.allows_audience(["supervisor", "wfm", "qa"]) == bool(sees)


def test_anonymous_is_a_viewer_of_every_tenant() -> None:
    assert ANONYMOUS.role == "viewer" and not ANONYMOUS.sees_alerts
    assert ANONYMOUS.allows_tenant("anything") and ANONYMOUS.describe()["anonymous"] is True


def test_a_tenant_limit_refuses_other_tenants_and_picks_the_default() -> None:
    grant = Grant("ana", "supervisor", tenants=frozenset({"acme", "zeta"}))
    assert grant.default_tenant == "acme"
    assert grant.restrict(Subscription("zeta")) == Subscription("zeta")
    with pytest.raises(ValueError, match="tenant 'default' is not allowed"):
        grant.restrict(Subscription("default"))
    assert Grant("bo", tenants=frozenset({"default", "acme"})).default_tenant == "default"


def test_a_queue_limit_narrows_the_subscription_and_hides_teams() -> None:
    grant = Grant("ana", "supervisor", queues=frozenset({"billing", "sales"}))
    everything = grant.restrict(Subscription("default"))
    assert everything.queues == {"billing", "sales"} and everything.limited
    assert not everything.shows_team("Blue")
    assert grant.restrict(Subscription("default", frozenset({"sales"}))).queues == {"sales"}
    with pytest.raises(ValueError, match="queue\\(s\\) support not allowed"):
        grant.restrict(Subscription("default", frozenset({"sales", "support"})))
    with pytest.raises(ValueError, match="subscribe by queue, not by team"):
        grant.restrict(Subscription("default", teams=frozenset({"Blue"})))
    snapshot = {"tenant": "default", "seq": 1, "queues": {"billing": {}, "support": {}},
                "teams": {"Blue": {}}, "intervals": {"support": {"rows": []}},
                "agents": {"a1": {"queues": ["billing"], "team": "Blue"},
                           "a2": {"queues": ["support"], "team": "Blue"}}}
    view = everything.filter_snapshot(snapshot)
    assert (set(view["queues"]), set(view["teams"]), set(view["agents"]),
            set(view["intervals"])) == ({"billing"}, set(), {"a1"}, set())


def test_parse_tokens_keeps_good_entries_and_names_the_bad_ones() -> None:
    raw = orjson.dumps({
        "tok-good-supervisor": {"name": "sam", "role": "supervisor", "tenants": ["default"]},
        "tok-bad-role-123": {"name": "x", "role": "boss"},
        "tok-no-name-1234": {"role": "qa"},
        "tok-empty-queues": {"name": "y", "queues": []},
        "": {"name": "z"},
    })
    grants, problems = parse_tokens(raw, "tokens.json")
    assert grants == {token_digest("tok-good-supervisor"): Grant(
        "sam", "supervisor", tenants=frozenset({"default"}))}
    assert len(problems) == 4
    assert all(p.startswith("tokens.json: token ") for p in problems)
    assert not any("tok-bad-role-123" in p for p in problems)  # tokens never in full in logs
    assert any("role" in p for p in problems) and any("name" in p for p in problems)
    assert any("empty list allows nothing" in p for p in problems)
    for bad in (b"{", b"[]", b'"x"'):
        with pytest.raises(ValueError, match="tokens.json"):
            parse_tokens(bad, "tokens.json")


def write_tokens(path: Path, tokens: dict[str, object]) -> None:
    """Write the file and move its mtime on, as an edit a second later would."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_bytes(orjson.dumps(tokens))
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_token_store_issues_revokes_and_changes_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    write_tokens(path, {"tok-a": {"name": "ana", "role": "qa"},
                        "tok-b": {"name": "bo", "role": "wfm"}})
    store = TokenStore({"tok-env": TokenSettings(name="env", role="admin")}, str(path))
    assert store.required and store.lookup("tok-a") is None  # not read yet
    store.reload()
    assert store.lookup("tok-a") == (Grant("ana", "qa"), token_digest("tok-a"))
    assert store.lookup("tok-env") is not None and store.lookup("nope") is None
    assert store.lookup(None) is None and store.lookup("") is None
    assert store.reload().revoked == frozenset()  # unchanged file: not read again

    write_tokens(path, {"tok-a": {"name": "ana", "role": "viewer"},
                        "tok-c": {"name": "cy", "role": "supervisor"}})
    changes = store.reload()
    assert changes.revoked == {token_digest("tok-b")}
    assert changes.changed == {token_digest("tok-a")}
    assert store.lookup("tok-b") is None and store.lookup("tok-c") is not None

    path.write_bytes(b'{"tok-a": ')  # half written: keep what was read
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert store.reload().revoked == frozenset() and store.lookup("tok-c") is not None

    path.unlink()  # no file: only the environment's tokens
    changes = store.reload()
    assert changes.revoked == {token_digest("tok-a"), token_digest("tok-c")}
    assert store.lookup("tok-env") is not None and len(store) == 1


def test_without_tokens_everyone_is_anonymous() -> None:
    store = TokenStore({}, None)
    assert not store.required
    assert store.lookup(None) == (ANONYMOUS, "") and store.lookup("whatever") == (ANONYMOUS, "")


@pytest.mark.parametrize(("origin", "host", "allowed", "ok"), [
    (None, "gw:8000", (), True),  # not a browser
    ("http://gw:8000", "gw:8000", (), True),
    ("https://GW:8000/", "gw:8000", (), True),
    ("http://gw:8001", "gw:8000", (), False),
    ("http://evil.example", "gw:8000", (), False),
    ("null", "gw:8000", (), False),
    ("http://evil.example", None, (), False),
    ("http://portal.example", "gw:8000", ("http://portal.example/",), True),
    ("http://gw:8000", "gw:8000", ("http://portal.example",), True),  # its own page still
    ("http://evil.example", "gw:8000", ("*",), True),
])
def test_origin(origin: str | None, host: str | None, allowed: tuple[str, ...], ok: bool) -> None:
    assert origin_allowed(origin, host, allowed) is ok


def test_rate_limit_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limit = RateLimit(5.0, burst=10, clock=lambda: now[0])
    assert [limit.take() for _ in range(11)] == [True] * 10 + [False]
    now[0] += 0.2  # one message's worth
    assert limit.take() and not limit.take()
    now[0] += 100.0  # never more than the burst
    assert sum(limit.take() for _ in range(20)) == 10


def test_roles_cover_the_settings_literal() -> None:
    for role in ROLES:
        assert TokenSettings(name="x", role=role).role == role  # type: ignore[arg-type]
