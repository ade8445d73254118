"""Alert rules files: loading, the shipped defaults, and errors that name line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.alerts.metrics import METRICS, Scope
from stream.alerts.rules import (
    RuleFileError,
    Threshold,
    default_rules,
    duration_text,
    load_rules,
    parse_duration,
    parse_rules,
)

GOOD = '''\
# a comment
[[rule]]
id = "sl-low"
metric = "queue.service_level"
op = "<"
threshold = "target - 0.05"
clear_threshold = "target"
for = "1h30m"
clear_for = 120
min_volume = 20
severity = "critical"
audience = ["supervisor", "wfm"]
message = "{queue}: SL {value:.0%} under {threshold:.0%}"

[rule.scope]
queues = ["billing", "sales"]

[[rule]]
id = "waiting"
metric = "queue.waiting"
op = ">="
threshold = 5
message = "{queue}: {value_text} waiting"
'''


def test_a_rules_file_loads_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(GOOD)
    sl, waiting = load_rules(path)
    assert sl.id == "sl-low" and sl.metric == "queue.service_level" and sl.op == "<"
    assert sl.threshold == Threshold(-0.05, from_target=True)
    assert sl.clear_threshold == Threshold(0.0, from_target=True)
    assert (sl.for_ms, sl.clear_for_ms, sl.min_volume) == (5_400_000, 120_000, 20)
    assert sl.severity == "critical" and sl.audience == ("supervisor", "wfm")
    assert sl.scope.queues == ("billing", "sales")
    assert sl.thresholds(0.9) == (0.85, 0.9)
    assert sl.condition(0.85) == "queue.service_level < target - 0.05 (0.85) for 1 h 30 min"
    # Defaults: for 0, clear_for = for, clear threshold = threshold, warning, supervisor.
    assert (waiting.for_ms, waiting.clear_for_ms) == (0, 0)
    assert waiting.thresholds(None) == (5.0, 5.0)
    assert waiting.severity == "warning" and waiting.audience == ("supervisor",)
    assert waiting.condition() == "queue.waiting >= 5"


def test_the_shipped_defaults_load_and_cover_the_issue() -> None:
    rules = {rule.id: rule for rule in default_rules()}
    assert set(rules) == {"service-level-under-target", "contacts-waiting-high",
                          "longest-wait-high", "abandon-rate-high", "break-too-long",
                          "lunch-too-long", "flagged-customer-on-contact",
                          # workforce management (docs/metrics.md section 5)
                          "agent-out-of-adherence", "agents-short-now",
                          "agents-short-next-interval", "volume-over-forecast"}
    assert rules["agent-out-of-adherence"].audience == ("wfm", "supervisor")
    assert rules["agent-out-of-adherence"].threshold.from_target
    sl = rules["service-level-under-target"]
    assert sl.metric == "queue.service_level" and sl.threshold.from_target
    assert sl.for_ms == 300_000
    assert rules["abandon-rate-high"].metric == "queue.abandon_rate_rolling"
    assert rules["break-too-long"].scope.reasons == ("break",)
    assert rules["break-too-long"].thresholds(None)[0] == 900
    assert rules["lunch-too-long"].scope.reasons == ("lunch",)
    assert rules["lunch-too-long"].thresholds(None)[0] == 3600
    for rule in rules.values():
        assert rule.metric in METRICS
        assert rule.clear_at.offset <= rule.threshold.offset if rule.op in (">", ">=") \
            else rule.clear_at.offset >= rule.threshold.offset


def test_a_target_threshold_stays_within_a_ratio() -> None:
    sl = {r.id: r for r in default_rules()}["service-level-under-target"]
    assert sl.thresholds(1.0) == (1.0, 1.0)  # target + 0.02 cannot pass 100%
    assert sl.thresholds(None) == (None, None)  # no target: no threshold


def test_scope_filters_match_on_every_field_set() -> None:
    rule = default_rules()[4]  # break-too-long
    assert rule.scope.matches(Scope("default", team="Blue", agent="a1", reason="break"))
    assert not rule.scope.matches(Scope("default", team="Blue", agent="a1", reason="lunch"))
    assert not rule.scope.matches(Scope("default", team="Blue", agent="a1"))


@pytest.mark.parametrize(("text", "seconds", "shown"), [
    (90, 90, "1 min 30 s"), ("45s", 45, "45 s"), ("5m", 300, "5 min"), ("5min", 300, "5 min"),
    ("1h30m", 5400, "1 h 30 min"), ("1h 0m 5s", 3605, "1 h 5 s"), (0, 0, "0 s"),
    ("2.5s", 2.5, "2.5 s"),
])
def test_durations_read_and_show(text: object, seconds: float, shown: str) -> None:
    assert parse_duration(text) == seconds
    assert duration_text(seconds) == shown


@pytest.mark.parametrize("bad", ["5x", "", "m", -1, True, "1d"])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


RULE = '''\
[[rule]]
id = "one"
metric = "queue.waiting"
op = ">"
threshold = 5
message = "{queue}: {value} waiting"
'''


def broken(replace: str, by: str) -> str:
    assert replace in RULE
    return RULE.replace(replace, by)


# (rules text, line, field, words of the message)
ERRORS = [
    (broken('op = ">"', 'op = "=>"'), 4, "op", "Input should be"),
    (broken("threshold = 5", 'threshold = "high"'), 5, "threshold", "a threshold is a number"),
    (broken("threshold = 5", "treshold = 5"), 5, "treshold", "unknown field"),
    (broken('message = "{queue}: {value} waiting"\n', ""), 1, "message",
     "required field is missing"),
    (broken("queue.waiting", "queue.wating"), 3, "metric", "unknown metric 'queue.wating'"),
    (broken("threshold = 5", 'threshold = "target"'), 5, "threshold",
     "'queue.waiting' has no target"),
    (RULE + 'for = "5x"\n', 7, "for", "a duration is"),
    (RULE + "clear_threshold = 7\n", 7, "clear_threshold", "must not be above"),
    (RULE + 'clear_threshold = "target"\n', 7, "clear_threshold", "must be a number"),
    (RULE + "min_volume = 5\n", 7, "min_volume", "not a ratio or mean"),
    (RULE + 'severity = "fatal"\n', 7, "severity", "'info', 'warning' or 'critical'"),
    (RULE + 'audience = ["supervisor",\n  "boss"]\n', 7, "audience[1]", "Input should be"),
    (RULE + "audience = []\n", 7, "audience", "at least 1"),
    (RULE + '\n[rule.scope]\nqueues = ["a"]\nreasons = ["break"]\n', 10, "scope.reasons",
     "a queue metric"),
    (RULE + '\n[rule.scope]\nskills = ["a"]\n', 9, "scope.skills", "unknown field"),
    (broken("{value} waiting", "{agent} waiting"), 6, "message", "unknown placeholder {agent}"),
    (broken("{value} waiting", "{value:%Y} waiting"), 6, "message", "bad template"),
    (broken("{value} waiting", "{value waiting"), 6, "message", "bad template"),
    (broken('id = "one"', 'id = "no spaces"'), 2, "id", "should match pattern"),
    (RULE + "\n" + RULE, 9, "id", "already used by the rule on line 1"),
    ("version = 2\n" + RULE, 1, "version", "unknown top-level field"),
    ("rule = 3\n", 1, "rule", "[[rule]] tables"),
    (RULE + "op = '<'\n", 7, "-", "not valid TOML"),
    (broken('message = "{queue}: {value} waiting"',
            'message = """\nseverity = 3\n{queue}"""') + 'severity = "x"\n', 9, "severity",
     "Input should be"),
]


@pytest.mark.parametrize(("text", "line", "field", "words"), ERRORS)
def test_errors_name_the_file_line_and_field(tmp_path: Path, text: str, line: int, field: str,
                                             words: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    error = caught.value
    assert (line, field) in [(p.line, p.field) for p in error.problems], str(error)
    assert words in str(error)
    assert f"{path}:{line}: " in str(error)
    assert f"field {field!r}" in str(error)


def test_errors_name_the_rule_and_every_problem_at_once() -> None:
    text = RULE + 'severity = "fatal"\n' + RULE.replace('"one"', '"two"').replace(
        "threshold = 5", "threshold = 'x'")
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text, "rules.toml")
    assert [(p.line, p.field, p.rule) for p in caught.value.problems] == [
        (7, "severity", "'one'"), (12, "threshold", "'two'")]
    assert str(caught.value).splitlines()[1].startswith(
        "rules.toml:12: rule 'two', field 'threshold': a threshold is a number")


def test_a_file_that_cannot_be_read_is_a_rule_file_error(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="cannot read the file"):
        load_rules(tmp_path / "missing.toml")


def test_inline_scope_tables_are_located_too() -> None:
    text = RULE + 'scope = { reasons = ["break"] }\n'
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text)
    assert (caught.value.line, caught.value.field) == (7, "scope.reasons")


def test_problems_are_listed_in_line_order() -> None:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(RULE.replace("threshold = 5", "treshold = 5"), "r.toml")
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (1, "threshold"), (5, "treshold")]
