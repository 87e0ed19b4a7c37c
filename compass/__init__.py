"""Poise's Human Values Compass: the model, the balance rule, charts and tag suggestions.

A pure library (standard library only; the optional embedding suggester imports the ``ml``
extra lazily). Main entry points::

    from compass import BalanceConfig, TaggedItem, check_balance, what_if, what_next
    report = check_balance(items, BalanceConfig())
    report.status, report.headlines, report.to_dict()

Tag suggestions live in :mod:`compass.suggest` (``default_suggester()``).
"""

from compass.advice import Recommendation, approval_warning, what_if, what_if_warning, what_next
from compass.balance import BalanceConfig, TaggedItem, check_balance, select_window
from compass.model import (
    NEEDS_ORDER,
    QUADRANT_NEEDS,
    QUADRANTS_ORDER,
    VALUES,
    CompassValue,
    Need,
    Quadrant,
    even_target,
    need_target,
    need_weights,
    parse_tags,
    quadrant_weights,
)
from compass.report import BalanceReport, NeedBalance, QuadrantBalance, Status, Verdict
from compass.stats import binomial_upper_tail, kish_effective_n, overweight_threshold
from compass.svg import render_compass_svg, render_trend_svg

__all__ = [
    "NEEDS_ORDER",
    "QUADRANTS_ORDER",
    "QUADRANT_NEEDS",
    "VALUES",
    "BalanceConfig",
    "BalanceReport",
    "CompassValue",
    "Need",
    "NeedBalance",
    "Quadrant",
    "QuadrantBalance",
    "Recommendation",
    "Status",
    "TaggedItem",
    "Verdict",
    "approval_warning",
    "binomial_upper_tail",
    "check_balance",
    "even_target",
    "kish_effective_n",
    "need_target",
    "need_weights",
    "overweight_threshold",
    "parse_tags",
    "quadrant_weights",
    "render_compass_svg",
    "render_trend_svg",
    "select_window",
    "what_if",
    "what_if_warning",
    "what_next",
]
