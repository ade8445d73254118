"""The WFM sums kept from one publishing turn to the next (stream/wfm/snapshot.py,
``WfmBoard``): every turn's adherence, intraday and team sections equal those computed
with every agent afresh, whatever changed in between (state changes, new schedules, an
agent gone or back, queues or team changed, an agent on two views, the clock crossing
schedule and interval boundaries, an exception reaching the threshold or turning severe,
the clock going back); and a turn in which nothing changed course computes no agent
again."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.definitions import INTERVAL_MS, QueueRule
from stream.metrics.partition import PartitionView
from stream.wfm.adherence import Mark, fold_day
from stream.wfm.config import WfmRules
from stream.wfm.snapshot import WfmBoard, wfm_sections

S = 1000
MIN = 60 * S
DAY_START = 1_790_000_000_000 - 1_790_000_000_000 % (24 * 3_600_000)  # a UTC midnight
TODAY = 738_000
OPEN_AT = DAY_START + 8 * 3_600_000  # 08:00: the schedules start here
RULES = WfmRules()
ACTIVITIES = ("open", "open", "open", "break", "lunch", "training", "off")
STATES: tuple[tuple[str, str | None], ...] = (
    ("available", None), ("on_contact", None), ("acw", None), ("aux", "break"),
    ("aux", "lunch"), ("aux", "training"), ("logged_out", None))
QUEUES = ("billing", "sales", "support")
TEAMS = (None, "Blue", "Red")


def _rule(queue: str) -> QueueRule:
    return QueueRule()


class Agent:
    """One agent of a test: its schedule, marks and snapshot entry (state, queues, team)."""

    def __init__(self, pieces: list[tuple[int, int, str]], queues: tuple[str, ...],
                 team: str | None) -> None:
        self.pieces = pieces
        self.marks: list[Mark] = []
        self.queues = queues
        self.team = team
        self.entry: dict[str, object] = self._entry(OPEN_AT)

    def mark(self, at: int, state: str, reason: str | None) -> None:
        self.marks.append((at, f"e{len(self.marks)}", state, reason))
        self.entry = self._entry(at)

    def _entry(self, upto: int) -> dict[str, object]:
        """The view's entry, as stream/wfm/state.py makes it: the day folded up to the
        latest state change."""
        tally, _, _ = fold_day(self.pieces, self.marks, DAY_START, upto, RULES)
        return {"pieces": [[s, e, a] for s, e, a in self.pieces], "tally": tally.dump()}

    def info(self, name: str) -> dict[str, object]:
        state, reason = (self.marks[-1][2], self.marks[-1][3]) if self.marks else (
            "logged_out", None)
        return {"state": state, "reason": reason, "queues": list(self.queues),
                "team": self.team, "name": name}


@st.composite
def schedules(draw: st.DrawFn) -> list[tuple[int, int, str]]:
    """A day's schedule from 08:00: pieces of 5 to 90 minutes, with gaps now and then."""
    pieces = []
    t = OPEN_AT
    for _ in range(draw(st.integers(0, 8))):
        t += draw(st.sampled_from((0, 0, 0, 10 * MIN)))
        length = draw(st.sampled_from((5, 15, 30, 45, 60, 90))) * MIN
        pieces.append((t, t + length, draw(st.sampled_from(ACTIVITIES))))
        t += length
    return pieces


def _boundaries(agents: dict[str, Agent], now: int) -> list[int]:
    """Instants after ``now`` at which figures change course: schedule and interval
    boundaries, exceptions reaching the threshold or turning severe."""
    times = [now - now % INTERVAL_MS + INTERVAL_MS]
    for agent in agents.values():
        times += [t for s, e, _ in agent.pieces for t in (s, e) if t > now]
        for at, _, _, _ in agent.marks[-1:]:
            times += [at + RULES.exception_ms, at + RULES.severe_ms]
        for s, _, _ in agent.pieces:
            times += [s + RULES.exception_ms, s + RULES.severe_ms]
    return sorted(t for t in times if t > now)


def _sections(agents: dict[str, Agent], now: int, board: WfmBoard | None,
              twice: bool = False) -> Any:
    """The sections of ``agents`` on two partitions' views; ``twice``: the first agent on
    both (a view read from another worker before a rebalance moved it)."""
    names = sorted(agents)
    split = len(names) // 2
    parts = (names[:split], names[split:] + (names[:1] if twice else []))
    views = [PartitionView(clock=now, wfm={"day": TODAY, "agents": {
        a: agents[a].entry for a in part}, "forecasts": {
        "billing": {str(OPEN_AT + i * INTERVAL_MS): [12.0, 240.0] for i in range(8)}}})
        for part in parts]
    infos = {a: agents[a].info(f"Agent {a}") for a in names}
    return wfm_sections(views, infos, {}, {}, QUEUES, _rule, RULES, TODAY, DAY_START,
                        DAY_START + 24 * 3_600_000, now, 15 * MIN, board)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_every_turn_with_the_kept_board_equals_one_computed_afresh(data: st.DataObject) -> None:
    agents: dict[str, Agent] = {}
    gone: dict[str, Agent] = {}
    for i in range(data.draw(st.integers(1, 6))):
        agents[f"a{i}"] = Agent(data.draw(schedules()),
                                tuple(data.draw(st.lists(st.sampled_from(QUEUES), max_size=2))),
                                data.draw(st.sampled_from(TEAMS)))
    board = WfmBoard()
    now = OPEN_AT - 5 * MIN
    twice = data.draw(st.sampled_from((False, False, True)))
    for _ in range(data.draw(st.integers(1, 25))):
        step = data.draw(st.sampled_from(("boundary", "boundary", "small", "large", "back")))
        if step == "boundary":
            now = data.draw(st.sampled_from(_boundaries(agents, now)[:6]))
            now += data.draw(st.sampled_from((0, 0, -1, 1)))
        elif step == "small":
            now += data.draw(st.integers(1, 90)) * S
        elif step == "large":
            now += data.draw(st.integers(1, 40)) * MIN
        else:  # the tenant's clock back a little (a partition's view read again, older)
            now -= data.draw(st.integers(1, 30)) * S
        for name in data.draw(st.lists(st.sampled_from(sorted(agents)), max_size=3,
                                       unique=True)):
            agent = agents[name]
            change = data.draw(st.sampled_from(
                ("state", "state", "state", "same", "schedule", "queues", "gone")))
            if change == "state" and (not agent.marks or agent.marks[-1][0] <= now):
                agent.mark(now, *data.draw(st.sampled_from(STATES)))
            elif change == "same":  # an equal entry, not the same object (read from JSON)
                agent.entry = {"pieces": [list(p) for p in agent.entry["pieces"]],  # type: ignore[attr-defined]
                               "tally": list(agent.entry["tally"])}  # type: ignore[call-overload]
            elif change == "schedule":
                agent.pieces = data.draw(schedules())
                agent.entry = agent._entry(agent.marks[-1][0] if agent.marks else OPEN_AT)
            elif change == "queues":
                agent.queues = tuple(data.draw(st.lists(st.sampled_from(QUEUES), max_size=2)))
                agent.team = data.draw(st.sampled_from(TEAMS))
            elif change == "gone" and len(agents) > 1:
                gone[name] = agents.pop(name)
        if gone and data.draw(st.booleans()):
            name = data.draw(st.sampled_from(sorted(gone)))
            agents[name] = gone.pop(name)

        assert (_sections(agents, now, board, twice)
                == _sections(agents, now, None, twice))


def test_a_turn_in_which_nothing_changes_course_computes_no_agent_again() -> None:
    agents = {f"a{i}": Agent([(OPEN_AT, OPEN_AT + 60 * MIN, "open"),
                              (OPEN_AT + 60 * MIN, OPEN_AT + 75 * MIN, "break")],
                             ("billing",), "Blue") for i in range(4)}
    agents["a0"].mark(OPEN_AT + 1 * MIN, "available", None)
    agents["a1"].mark(OPEN_AT + 2 * MIN, "aux", "lunch")  # out of adherence from 08:02
    agents["a2"].mark(OPEN_AT + 3 * MIN, "on_contact", None)
    board = WfmBoard()
    first, _, _ = _sections(agents, OPEN_AT + 10 * MIN, board)
    parts = dict(board.agents)

    # 08:11: no boundary crossed; the figures grow, the entries stay the same objects
    adherence, intraday, teams = _sections(agents, OPEN_AT + 11 * MIN, board)
    assert all(board.agents[a] is parts[a] for a in agents)
    assert all(adherence[a] is first[a] for a in agents)
    blue = teams["Blue"]
    assert blue["scheduled_s"] == 4 * 11 * 60
    assert blue["agents"] == {"in": 2, "grace": 0, "out": 2, "unscheduled": 0}
    assert intraday["billing"]["rows"][0]["staffed"] == round(2 * (11 - 2) / 11, 2)

    # 08:15: the staffed agents start an interval (their staffed time goes to a new one)
    _sections(agents, OPEN_AT + 15 * MIN, board)
    assert {a for a in agents if board.agents[a] is not parts[a]} == {"a0", "a2"}

    # a state change computes that agent only
    parts = dict(board.agents)
    agents["a3"].mark(OPEN_AT + 16 * MIN, "available", None)
    _sections(agents, OPEN_AT + 16 * MIN, board)
    assert {a for a in agents if board.agents[a] is not parts[a]} == {"a3"}
