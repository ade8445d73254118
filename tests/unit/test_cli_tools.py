"""The offline commands: ``floorpulse backtest`` and ``floorpulse sentiment``."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from stream.cli import main

DAY = Path(__file__).parent.parent / "data" / "day_small.jsonl"


def test_backtest_prints_the_same_transitions_on_every_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", str(DAY), "--json"]) == 0
    first = capsys.readouterr().out
    assert main(["backtest", str(DAY), "--json"]) == 0
    assert capsys.readouterr().out == first
    transitions = orjson.loads(first)
    assert transitions and {t["state"] for t in transitions} <= {"raised", "cleared"}
    assert all(t["rule_id"] and t["scope"]["tenant"] == "default" for t in transitions)


def test_backtest_with_a_bad_rules_file_names_the_line_and_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nid = "x"\nmetric = "queue.waiting"\nop = ">"\n'
                     'threshold = "lots"\n')
    assert main(["backtest", "--rules", str(rules), str(DAY)]) == 2
    err = capsys.readouterr().err
    assert "rules.toml:5" in err and "threshold" in err


def test_sentiment_scores_each_line_and_says_if_it_alone_is_negative(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(
        "third hour on hold, still no answer\nthanks, that was great\n"
        "I want to speak to a supervisor\n"))
    assert main(["sentiment", "--json"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["negative"] for line in lines] == [True, False, False]
    assert lines[0]["score"] < -0.05 < lines[1]["score"]
    assert lines[2]["escalation_phrases"] == ["supervisor"]
