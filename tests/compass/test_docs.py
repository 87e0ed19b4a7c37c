"""docs/compass.md stays honest: its tables match the code, its API names exist."""

from __future__ import annotations

import re
from pathlib import Path

import compass
import compass.suggest
from compass.stats import overweight_threshold

DOC = (Path(__file__).parents[2] / "docs" / "compass.md").read_text(encoding="utf-8")


def test_threshold_table_matches_code() -> None:
    rows = [line for line in DOC.splitlines() if line.startswith("   | ")]
    ns = [int(x) for x in re.findall(r"\d+", rows[0])]
    ks = [int(x) for x in re.findall(r"\d+", rows[1])]
    assert ns and len(ns) == len(ks)
    assert [overweight_threshold(n, 0.25) for n in ns] == ks


def test_integrator_api_is_documented_and_exists() -> None:
    names = [
        "check_balance",
        "BalanceConfig",
        "TaggedItem",
        "approval_warning",
        "what_if",
        "what_next",
        "render_compass_svg",
        "render_trend_svg",
        "parse_tags",
    ]
    for name in names:
        assert name in DOC, name
        assert hasattr(compass, name), name
    for name in ["default_suggester", "available", "LexiconSuggester", "EmbeddingSuggester"]:
        assert name in DOC and hasattr(compass.suggest, name), name


def test_bench_commands_are_documented() -> None:
    assert ".venv/bin/python bench/suggest_eval.py" in DOC
    assert ".venv/bin/python bench/balance_pure.py" in DOC
