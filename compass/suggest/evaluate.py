"""Measure a suggester against a labelled set of posts (used by bench/suggest_eval.py)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compass.model import Quadrant
from compass.suggest.base import Suggester

__all__ = [
    "FRESH_FROM_ROW",
    "EvalResult",
    "LabelledPost",
    "evaluate",
    "fresh_rows",
    "load_labelled",
    "split_halves",
]

#: Rows from here on in tests/data/compass_eval.csv were written after the lexicon, the
#: prototypes and all thresholds were frozen: a blind check for every suggester.
FRESH_FROM_ROW = 120


@dataclass(frozen=True)
class LabelledPost:
    """A post with its true quadrant; ``row`` is its 0-based data row in the file."""

    row: int
    text: str
    quadrant: Quadrant


@dataclass(frozen=True)
class EvalResult:
    """Figures for one suggester on one set.

    Attributes:
        total: posts evaluated.
        suggested: posts given a suggestion.
        correct_top1: posts whose first suggested tag is the true quadrant (no suggestion
            counts as wrong).
    """

    total: int
    suggested: int
    correct_top1: int

    @property
    def top1_accuracy(self) -> float:
        """Correct first tags over all posts."""
        return self.correct_top1 / self.total if self.total else 0.0

    @property
    def coverage(self) -> float:
        """Share of posts given a suggestion."""
        return self.suggested / self.total if self.total else 0.0

    @property
    def accuracy_when_suggesting(self) -> float:
        """Correct first tags over posts given a suggestion."""
        return self.correct_top1 / self.suggested if self.suggested else 0.0


def load_labelled(path: str | Path) -> list[LabelledPost]:
    """Read a ``text,quadrant`` CSV."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            LabelledPost(row, record["text"], Quadrant(record["quadrant"].strip()))
            for row, record in enumerate(csv.DictReader(handle))
        ]


def split_halves(posts: Sequence[LabelledPost]) -> tuple[list[LabelledPost], list[LabelledPost]]:
    """(tune, held_out): even data rows are for tuning, odd rows are held out."""
    return [p for p in posts if p.row % 2 == 0], [p for p in posts if p.row % 2 == 1]


def fresh_rows(posts: Sequence[LabelledPost]) -> list[LabelledPost]:
    """Posts written after the suggesters were frozen (row >= ``FRESH_FROM_ROW``)."""
    return [p for p in posts if p.row >= FRESH_FROM_ROW]


def evaluate(suggester: Suggester, posts: Sequence[LabelledPost]) -> EvalResult:
    """Run ``suggester`` over ``posts`` and count coverage and top-1 hits."""
    suggested = correct = 0
    for post in posts:
        tags = suggester.suggest(post.text).tags
        if tags:
            suggested += 1
            correct += tags[0] is post.quadrant
    return EvalResult(len(posts), suggested, correct)
