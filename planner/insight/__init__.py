"""Insight (issue 15): published posts' metrics, what resonates, best times, channel health.

Public entry points: ``collect.collect_due`` (the worker's metrics job), ``service.report``
(the report), ``service.account_best_times`` (one account's best times, for the slot grid),
``service.hints`` (the composer's line per account and value).
Routes: ``routes`` (the Insight page, its CSV, the composer hint), ``api``.

Other areas use what this module exports; the inner modules are this area's own.
"""

from __future__ import annotations

from planner.insight import collect, history, service
from planner.insight.collect import collect_due
from planner.insight.service import account_best_times, hints, report

__all__ = ["account_best_times", "collect", "collect_due", "hints", "history", "report",
           "service"]
