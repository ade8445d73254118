"""Quality of the negative flag on a labelled CSV: ``python -m stream.sentiment.evaluate [CSV]``.

The CSV has a ``text`` column and a ``label`` column (``negative``, ``neutral`` or
``positive``); a message is flagged when :func:`~stream.sentiment.scoring.is_negative` holds
for its score at the configured threshold. Prints precision, recall and F1 of the flag
(``negative`` is the positive class), the confusion counts, a small threshold sweep, and
plain VADER's figures for comparison.

By default it reads ``../shared/data/sentiment_dev.csv`` beside the repository, evaluation
data that is not part of the project (docs/sentiment.md); when that file is missing it says
so and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stream.sentiment.config import SentimentSettings
from stream.sentiment.scoring import is_negative, score

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CSV = REPO_ROOT.parent / "shared" / "data" / "sentiment_dev.csv"
NEGATIVE = "negative"
SWEEP = (0.0, -0.02, -0.05, -0.1, -0.15, -0.2, -0.25, -0.3, -0.35, -0.4, -0.45, -0.5)
VADER_BASELINE_THRESHOLD = -0.05


@dataclass(frozen=True, slots=True)
class Confusion:
    """Counts of the negative flag against the labels (negative is the positive class)."""

    true_pos: int
    false_pos: int
    false_neg: int
    true_neg: int

    @property
    def precision(self) -> float:
        flagged = self.true_pos + self.false_pos
        return self.true_pos / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        negatives = self.true_pos + self.false_neg
        return self.true_pos / negatives if negatives else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}  "
                f"(tp {self.true_pos}, fp {self.false_pos}, fn {self.false_neg}, "
                f"tn {self.true_neg})")


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows of a CSV with ``text`` and ``label`` columns."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"text", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path.name}: needs 'text' and 'label' columns")
        return [(row["text"], row["label"].strip().lower()) for row in reader]


def confusion(scores: Sequence[float], labels: Sequence[str], threshold: float) -> Confusion:
    tp = fp = fn = tn = 0
    for value, label in zip(scores, labels, strict=True):
        flagged = is_negative(value, threshold)
        actual = label == NEGATIVE
        if flagged and actual:
            tp += 1
        elif flagged:
            fp += 1
        elif actual:
            fn += 1
        else:
            tn += 1
    return Confusion(tp, fp, fn, tn)


def scored(texts: Iterable[str], scorer: Callable[[str], float] = score) -> list[float]:
    return [scorer(text) for text in texts]


def plain_vader() -> Callable[[str], float]:
    """Unmodified VADER's compound score, the baseline."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    def compound(text: str) -> float:
        return float(analyzer.polarity_scores(text)["compound"])

    return compound


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream.sentiment.evaluate",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV,
                        help="labelled CSV (default: ../shared/data/sentiment_dev.csv)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="negative threshold (default: SentimentSettings')")
    args = parser.parse_args(argv)
    path: Path = args.csv
    if not path.is_file():
        print(f"{path.name}: not found, nothing to evaluate")
        return 0
    threshold = (SentimentSettings().negative_threshold if args.threshold is None
                 else args.threshold)
    rows = read_labelled(path)
    texts = [text for text, _ in rows]
    labels = [label for _, label in rows]
    negatives = sum(label == NEGATIVE for label in labels)
    print(f"{path.name}: {len(rows)} messages, {negatives} labelled negative")

    scores = scored(texts)
    print(f"floorpulse at threshold {threshold:+.2f}: "
          f"{confusion(scores, labels, threshold).line()}")
    print("threshold sweep:")
    for value in SWEEP:
        print(f"  {value:+.2f}  {confusion(scores, labels, value).line()}")
    baseline = confusion(scored(texts, plain_vader()), labels, VADER_BASELINE_THRESHOLD)
    print(f"plain VADER at {VADER_BASELINE_THRESHOLD:+.2f}: {baseline.line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
