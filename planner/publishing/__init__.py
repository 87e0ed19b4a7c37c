"""The publishing engine: claim -> send -> record, exactly once (``dispatch``, ``claiming``,
``recording``, ``reconcile``, ``reaper``, ``outgoing``, ``config``), the worker's scheduled jobs
(``jobs``), the Publishing page's services (``overview``), metrics, and their routes.

Other areas use what this module exports; the inner modules are this area's own.
"""

from __future__ import annotations

from planner.publishing import metrics
from planner.publishing.config import DispatchConfig
from planner.publishing.jobs import run_worker_forever, start_worker
from planner.publishing.overview import (
    CANCELLABLE,
    MARKABLE,
    NEEDS_ATTENTION,
    RESCHEDULABLE,
    RETRYABLE,
    SECTIONS,
    UNSENT,
    PublicationFilter,
    PublicationLocked,
    PublicationView,
    S,
    attempts_by_publication,
    cancel_publication,
    count_needing_attention,
    edit_publication_text,
    find_publications,
    get_publication,
    hold_publications_for_post,
    list_publications,
    mark_published,
    needing_attention_query,
    publishing_overview,
    retry_publication,
    schedule_publications_for_post,
    section_counts,
)

__all__ = [
    "CANCELLABLE",
    "DispatchConfig",
    "MARKABLE",
    "NEEDS_ATTENTION",
    "PublicationLocked",
    "PublicationView",
    "RESCHEDULABLE",
    "RETRYABLE",
    "S",
    "SECTIONS",
    "PublicationFilter",
    "UNSENT",
    "attempts_by_publication",
    "cancel_publication",
    "count_needing_attention",
    "edit_publication_text",
    "find_publications",
    "get_publication",
    "hold_publications_for_post",
    "list_publications",
    "mark_published",
    "needing_attention_query",
    "metrics",
    "publishing_overview",
    "retry_publication",
    "run_worker_forever",
    "schedule_publications_for_post",
    "section_counts",
    "start_worker",
]
