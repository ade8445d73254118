"""Workforce-management settings: part of the one settings object
(``FLOORPULSE_WFM='{"exception_threshold_s": 90}'``), docs/metrics.md section 5.

``adherence`` maps each schedule activity to the agent states that count as adherent to it.
A state is written ``state`` (any reason) or ``state:reason`` (``aux:break``: aux with the
reason ``break`` only). An activity the map does not name is adherent to ``aux`` with the
activity's name as reason (a ``coaching`` segment: ``aux:coaching``), so a new aux code
needs no setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_ADHERENCE: dict[str, tuple[str, ...]] = {
    "open": ("available", "on_contact", "acw"),
    "break": ("aux:break",),
    "lunch": ("aux:lunch",),
    "meeting": ("aux:meeting",),
    "training": ("aux:training",),
}
STAFFED_STATES = frozenset({"available", "on_contact", "acw"})


class WfmSettings(BaseModel):
    """exception_threshold_s: an exception (a stretch of scheduled time out of adherence)
        shorter than this does not count; severe_threshold_s: the page marks an exception
        severe, and the default alert rule fires, past this.
    off_activities: activities that are not scheduled time (time in them counts nowhere).
    work_activities: activities that are scheduled work, for conformance and planned staff.
    max_occupancy: Erlang C "agents needed" also keeps A / N at or under this."""

    model_config = ConfigDict(frozen=True)

    adherence: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_ADHERENCE))
    off_activities: tuple[str, ...] = ("off",)
    work_activities: tuple[str, ...] = ("open",)
    exception_threshold_s: float = Field(default=60.0, ge=0)
    severe_threshold_s: float = Field(default=300.0, ge=0)
    max_occupancy: float = Field(default=1.0, gt=0, le=1)


@dataclass(frozen=True, slots=True)
class WfmRules:
    """The settings in the form the adherence fold and the intraday figures use (times in
    ms)."""

    adherence: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_ADHERENCE))
    off_activities: frozenset[str] = frozenset({"off"})
    work_activities: frozenset[str] = frozenset({"open"})
    exception_ms: int = 60_000
    severe_ms: int = 300_000
    max_occupancy: float = 1.0
    _cache: dict[tuple[str, str, str | None], bool] = field(default_factory=dict, repr=False,
                                                             compare=False)

    @classmethod
    def from_settings(cls, wfm: WfmSettings) -> WfmRules:
        return cls(dict(wfm.adherence), frozenset(wfm.off_activities),
                   frozenset(wfm.work_activities), round(wfm.exception_threshold_s * 1000),
                   round(wfm.severe_threshold_s * 1000), wfm.max_occupancy)

    def scheduled(self, activity: str | None) -> bool:
        """Whether time in ``activity`` is scheduled time."""
        return activity is not None and activity not in self.off_activities

    def is_work(self, activity: str | None) -> bool:
        return activity is not None and activity in self.work_activities

    def adherent(self, activity: str, state: str, reason: str | None) -> bool:
        key = (activity, state, reason)
        found = self._cache.get(key)
        if found is None:
            allowed = self.adherence.get(activity, (f"aux:{activity}",))
            found = state in allowed or (reason is not None and f"{state}:{reason}" in allowed)
            self._cache[key] = found
        return found
