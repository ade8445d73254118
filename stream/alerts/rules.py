"""Alert rules: the model, the TOML rules file, and the shipped defaults.

A rule watches one registered metric (:mod:`stream.alerts.metrics`) in every scope the
metric has, filtered by the rule's ``scope``; docs/alerts.md describes every field.
:func:`load_rules` reads a file and validates it whole; every problem is reported with the
file, the line and the field, e.g.::

    rules.toml:14: rule 'long-wait', field 'threshold': a number, or 'target' ...

The same file holds the QA flag rules (``[[flag]]``, :mod:`stream.qa.flags`,
docs/sentiment.md); :func:`parse_config` reads both.

Exceptions::

    ValueError
    └── RuleFileError   a rules file that cannot be used (``problems``: each line and field)
"""

from __future__ import annotations

import math
import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from stream.alerts.metrics import METRICS, Metric, Scope
from stream.alerts.templates import check_placeholders
from stream.qa import live as _qa_metrics  # noqa: F401  (registers the QA metrics)
from stream.qa.flags import FlagRule

Op = Literal["<", "<=", ">", ">="]
Severity = Literal["info", "warning", "critical"]
Audience = Literal["supervisor", "wfm", "qa"]
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]

DEFAULT_RULES_FILE = "default_rules.toml"
UNDEFINED_TEXT = "—"


# ------------------------------------------------------------------ durations
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?"
                       r"\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from ``90`` (seconds), ``"90s"``, ``"5m"``, ``"5min"``, ``"1h30m"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text like '5m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)) and any(match.groups()):
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        raise ValueError(f"a duration is a number of seconds or a text like '90s', '5m', "
                         f"'1h30m'; got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration cannot be negative; got {value!r}")
    return seconds


def duration_text(seconds: float) -> str:
    """``5 min``, ``90 s``, ``1 h 30 min``."""
    whole = round(seconds)
    if whole != seconds or whole < 60:
        return f"{seconds:g} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{secs} s" if secs else ""]
    return " ".join(p for p in parts if p)


Duration = Annotated[float, PlainValidator(parse_duration), PlainSerializer(float)]


# ----------------------------------------------------------------- thresholds
@dataclass(frozen=True, slots=True)
class Threshold:
    """A fixed number, or the scope's own target plus an offset (``target - 0.05``)."""

    offset: float
    from_target: bool = False

    def resolve(self, target: float | None,
                bounds: tuple[float, float] | None = None) -> float | None:
        if not self.from_target:
            return self.offset
        if target is None:
            return None
        value = target + self.offset
        if bounds is not None:
            value = min(max(value, bounds[0]), bounds[1])
        return round(value, 6)

    def text(self) -> str:
        if not self.from_target:
            return f"{self.offset:g}"
        if not self.offset:
            return "target"
        return f"target {'+' if self.offset > 0 else '-'} {abs(self.offset):g}"


_TARGET = re.compile(r"^\s*target\s*(?:([+-])\s*(\d+(?:\.\d*)?|\.\d+)\s*)?$")


def parse_threshold(value: object) -> Threshold:
    if isinstance(value, Threshold):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("a threshold must be a finite number")
        return Threshold(float(value))
    if isinstance(value, str) and (match := _TARGET.match(value)):
        sign, number = match.groups()
        offset = float(number) if number else 0.0
        return Threshold(-offset if sign == "-" else offset, from_target=True)
    raise ValueError(f"a threshold is a number, or 'target' / 'target + N' / 'target - N' "
                     f"(the scope's own target); got {value!r}")


ThresholdField = Annotated[Threshold, PlainValidator(parse_threshold),
                           PlainSerializer(lambda t: t.offset if not t.from_target else t.text())]


def breaches(value: float, op: Op, threshold: float) -> bool:
    if op == "<":
        return value < threshold
    if op == "<=":
        return value <= threshold
    if op == ">":
        return value > threshold
    return value >= threshold


# ---------------------------------------------------------------------- rules
class FieldProblem(ValueError):
    """A validator's error about a part of its field (``scope.reasons``)."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


class ScopeFilter(BaseModel):
    """Which scopes a rule applies to: each list set must contain the scope's value (an
    empty list: any). A filter on a field the metric's scopes lack is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenants: tuple[Name, ...] = ()
    queues: tuple[Name, ...] = ()
    teams: tuple[Name, ...] = ()
    agents: tuple[Name, ...] = ()
    reasons: tuple[Name, ...] = ()

    def matches(self, scope: Scope) -> bool:
        for allowed, value in ((self.tenants, scope.tenant), (self.queues, scope.queue),
                               (self.teams, scope.team), (self.agents, scope.agent),
                               (self.reasons, scope.reason)):
            if allowed and value not in allowed:
                return False
        return True

    def fields_set(self) -> list[str]:
        return [name for name in ("tenants", "queues", "teams", "agents", "reasons")
                if getattr(self, name)]


TEMPLATE_FIELDS = ("rule", "metric", "severity", "value", "threshold", "clear_threshold",
                   "value_text", "threshold_text", "for", "condition")


class _Formatter(string.Formatter):
    """``str.format`` where an undefined value shows as a dash, whatever its spec."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return UNDEFINED_TEXT
        return format(value, format_spec)


_FORMATTER = _Formatter()


def render(template: str, fields: Mapping[str, object]) -> str:
    return _FORMATTER.vformat(template, (), dict(fields))


def value_text(value: float | None, unit: str) -> str:
    """A figure as a person reads it: ``72%``, ``95 s``, ``17 min 5 s``, ``12``."""
    if value is None:
        return UNDEFINED_TEXT
    if unit == "ratio":
        return f"{value * 100:.0f}%"
    if unit == "seconds":
        return duration_text(round(value))
    return f"{value:g}"


class Rule(BaseModel):
    """One alert rule (docs/alerts.md). Fields are validated in this order, so the later
    ones are checked against the metric."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RuleId
    metric: str
    op: Op
    threshold: ThresholdField
    clear_threshold: ThresholdField | None = None
    for_s: Duration = Field(default=0.0, alias="for")
    clear_for_s: Duration | None = Field(default=None, alias="clear_for")
    min_volume: int = Field(default=0, ge=0)
    severity: Severity = "warning"
    audience: tuple[Audience, ...] = Field(default=("supervisor",), min_length=1)
    scope: ScopeFilter = ScopeFilter()
    message: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    description: str = ""

    # -------------------------------------------------------------- checks
    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(sorted(METRICS))}")
        return value

    @field_validator("threshold")
    @classmethod
    def _target_exists(cls, value: Threshold, info: ValidationInfo) -> Threshold:
        metric = METRICS.get(info.data.get("metric", ""))
        if value.from_target and metric is not None and not metric.has_target:
            raise ValueError(f"metric {metric.name!r} has no target; give a number")
        return value

    @field_validator("clear_threshold")
    @classmethod
    def _hysteresis(cls, value: Threshold | None, info: ValidationInfo) -> Threshold | None:
        threshold, op = info.data.get("threshold"), info.data.get("op")
        if value is None or threshold is None or op is None:
            return value
        if value.from_target != threshold.from_target:
            raise ValueError("must be a number when threshold is a number, and "
                             "'target ± N' when threshold is 'target ± N'")
        if op in (">", ">=") and value.offset > threshold.offset:
            raise ValueError(f"with op {op!r} the clear threshold must not be above the "
                             f"threshold ({value.text()} > {threshold.text()})")
        if op in ("<", "<=") and value.offset < threshold.offset:
            raise ValueError(f"with op {op!r} the clear threshold must not be below the "
                             f"threshold ({value.text()} < {threshold.text()})")
        return value

    @field_validator("min_volume")
    @classmethod
    def _volume_exists(cls, value: int, info: ValidationInfo) -> int:
        metric = METRICS.get(info.data.get("metric", ""))
        if value and metric is not None and not metric.has_volume:
            raise ValueError(f"metric {metric.name!r} is not a ratio or mean over contacts")
        return value

    @field_validator("scope")
    @classmethod
    def _scope_fields(cls, value: ScopeFilter, info: ValidationInfo) -> ScopeFilter:
        metric = METRICS.get(info.data.get("metric", ""))
        if metric is None:
            return value
        for name in value.fields_set():
            if name[:-1] not in metric.scope_fields:
                raise FieldProblem(name, f"{metric.name!r} is a {metric.level} metric; its "
                                         f"scopes have {', '.join(metric.scope_fields)}")
        return value

    @field_validator("message")
    @classmethod
    def _template(cls, value: str, info: ValidationInfo) -> str:
        metric = METRICS.get(info.data.get("metric", ""))
        allowed = set(TEMPLATE_FIELDS) | set(metric.scope_fields if metric else ())
        check_placeholders(value, sorted(allowed), "this rule's messages")
        sample = dict.fromkeys(allowed, "x") | {"value": 0.5, "threshold": 0.5,
                                               "clear_threshold": 0.5}
        try:
            render(value, sample)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ValueError(f"bad template: {exc}") from None
        return value

    # ------------------------------------------------------------- derived
    @property
    def metric_spec(self) -> Metric:
        return METRICS[self.metric]

    @property
    def for_ms(self) -> int:
        return round(self.for_s * 1000)

    @property
    def clear_for_ms(self) -> int:
        return self.for_ms if self.clear_for_s is None else round(self.clear_for_s * 1000)

    @property
    def clear_at(self) -> Threshold:
        return self.threshold if self.clear_threshold is None else self.clear_threshold

    def thresholds(self, target: float | None) -> tuple[float | None, float | None]:
        """(threshold, clear threshold) for a scope with this target."""
        bounds = self.metric_spec.bounds()
        return (self.threshold.resolve(target, bounds), self.clear_at.resolve(target, bounds))

    def condition(self, threshold: float | None = None) -> str:
        """``queue.service_level < target (0.8) for 5 min``."""
        text = self.threshold.text()
        if self.threshold.from_target and threshold is not None:
            text += f" ({threshold:g})"
        held = f" for {duration_text(self.for_s)}" if self.for_s else ""
        return f"{self.metric} {self.op} {text}{held}"


# ----------------------------------------------------------------- the file
@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    field: str
    message: str
    rule: str | None = None  # the rule's id, or "#n" when it has none
    section: str = "rule"  # or "flag" (a [[flag]] table)

    def text(self, source: str) -> str:
        where = f"{self.section} {self.rule}, " if self.rule else ""
        return f"{source}:{self.line}: {where}field {self.field!r}: {self.message}"


class RuleFileError(ValueError):
    """A rules file that cannot be used; ``problems`` name each line and field."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(p.text(source) for p in self.problems))

    @property
    def line(self) -> int:
        return self.problems[0].line

    @property
    def field(self) -> str:
        return self.problems[0].field


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
                  r"""(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")

Positions = dict[tuple[int, tuple[str, ...]], int]


def _dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def locate(text: str, section: str = "rule") -> Positions:
    """Where each table and key is: ``(index, key path) -> line``, the index of the
    ``[[section]]`` table (``rule`` or ``flag``), -1 for keys outside those tables. Found
    by scanning the text (tomllib keeps no positions); good for files written as
    docs/alerts.md shows."""
    positions: Positions = {}
    rule = -1
    table: tuple[str, ...] = ()
    quote: str | None = None  # inside a multi-line string
    for number, line in enumerate(text.splitlines(), start=1):
        if quote is not None:
            if line.count(quote) % 2:
                quote = None
            continue
        header = _HEADER.match(line)
        if header:
            path = _dotted(header.group(2))
            if path[0] == section:
                if header.group(1) == "[[" and len(path) == 1:
                    rule += 1
                table = path[1:]
                positions.setdefault((rule, table), number)
            else:
                rule, table = -1, path
                positions.setdefault((-1, path), number)
            continue
        key = _KEY.match(line)
        if key:
            positions.setdefault((rule, table + _dotted(key.group(1))), number)
            rest = line[key.end():]
            for marker in ('"""', "'''"):
                if rest.count(marker) % 2:
                    quote = marker
    return positions


def _line(positions: Positions, rule: int, path: Sequence[str]) -> int:
    keys = tuple(path)
    while True:
        if (rule, keys) in positions:
            return positions[(rule, keys)]
        if not keys:
            break
        keys = keys[:-1]
    return positions.get((-1, ("rule",)), 1)


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


SECTIONS = ("rule", "flag")


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """A rules file: alert rules (``[[rule]]``) and QA flag rules (``[[flag]]``)."""

    rules: list[Rule]
    flags: list[FlagRule]


def _tables(data: Mapping[str, Any], text: str, section: str, model: type[Rule | FlagRule],
            problems: list[Problem]) -> list[Any]:
    """Validate every ``[[section]]`` table with ``model``; problems name line and field."""
    positions = locate(text, section)
    tables = data.get(section, [])
    if not isinstance(tables, list):
        problems.append(Problem(_line(positions, -1, (section,)), section,
                                f"write them as [[{section}]] tables"))
        tables = []
    found: list[Any] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        name = table.get("id") if isinstance(table, dict) else None
        label = repr(name) if isinstance(name, str) else f"#{index + 1}"
        if not isinstance(table, dict):
            problems.append(Problem(_line(positions, -1, (section,)), section,
                                    f"{section} {label} is not a table"))
            continue
        try:
            item = model.model_validate(table)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc = list(error["loc"])
                cause = error.get("ctx", {}).get("error")
                if isinstance(cause, FieldProblem):
                    loc.append(cause.part)
                path = [str(p) for p in loc if not isinstance(p, int)]
                field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]"
                                 for p in loc).replace(".[", "[") or "-"
                problems.append(Problem(_line(positions, index, path), field,
                                        _message(error), label, section))
            continue
        item_id = item.id
        if item_id in seen:
            problems.append(Problem(_line(positions, index, ("id",)), "id",
                                    f"the id is already used by the {section} on line "
                                    f"{seen[item_id]}", label, section))
            continue
        seen[item_id] = _line(positions, index, ())
        found.append(item)
    return found


def parse_config(text: str, source: str = "<rules>") -> RulesConfig:
    """Alert and flag rules from the text of a TOML rules file; :class:`RuleFileError` on
    any problem in either."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else 1
        raise RuleFileError(source, [Problem(line, "-", f"not valid TOML: {exc}")]) from None
    positions = locate(text)
    problems: list[Problem] = []
    for key in data:
        if key not in SECTIONS:
            problems.append(Problem(_line(positions, -1, (key,)), key,
                                    "unknown top-level field; rules are [[rule]] tables and "
                                    "QA flag rules [[flag]] tables"))
    rules: list[Rule] = _tables(data, text, "rule", Rule, problems)
    flags: list[FlagRule] = _tables(data, text, "flag", FlagRule, problems)
    if problems:
        raise RuleFileError(source, sorted(problems, key=lambda p: p.line))
    return RulesConfig(rules, flags)


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    """The alert rules of a TOML rules file (its flag rules are validated too)."""
    return parse_config(text, source).rules


def load_config(path: str | Path) -> RulesConfig:
    """Alert and flag rules of a TOML file, validated whole (see :func:`parse_config`)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(str(file), [Problem(1, "-", f"cannot read the file: {exc}")]) \
            from None
    return parse_config(text, str(file))


def load_rules(path: str | Path) -> list[Rule]:
    """The alert rules of a TOML file, validated whole (see :func:`parse_config`)."""
    return load_config(path).rules


def default_rules_text() -> str:
    return resources.files("stream.alerts").joinpath(DEFAULT_RULES_FILE).read_text("utf-8")


def default_rules() -> list[Rule]:
    """The shipped defaults (``stream/alerts/default_rules.toml``)."""
    return parse_rules(default_rules_text(), DEFAULT_RULES_FILE)


def default_config() -> RulesConfig:
    """The shipped alert and flag rules."""
    return parse_config(default_rules_text(), DEFAULT_RULES_FILE)


def settings_config(rules_file: str | None) -> RulesConfig:
    """The rules of ``FLOORPULSE_RULES_FILE``, or the shipped defaults when it is unset."""
    return default_config() if rules_file is None else load_config(rules_file)
