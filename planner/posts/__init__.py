"""Posts and their calendar: writing, the review workflow, scheduling (slots, DST), CSV import
and export, text rules and media. Routes: ``routes`` (composer, actions), ``routes_calendar``,
``routes_review``, ``api``.

Other areas use what this module exports; the inner modules are this area's own.
"""

from __future__ import annotations

from planner.posts import calendar, csvio, media, schedule, textrules
from planner.posts.notify import count_in_review, in_review_query, review_thread
from planner.posts.schedule import parse_local, to_utc
from planner.posts.service import (
    EDITABLE,
    IN_FLIGHT,
    QUADRANTS,
    SETTLED,
    UNSENT,
    Actor,
    PostInput,
    content_problems,
    create_post,
    get_post,
    input_from_post,
    local_time_of,
    parse_tags,
    publication_outcome,
    publications_of,
    reschedule,
    review_queue,
    snapshot,
    update_post,
)
from planner.posts.textrules import content_for
from planner.posts.workflow import (
    COMMENT_MAX,
    DELETABLE,
    BalanceConfirmationNeeded,
    add_comment,
    approve,
    back_to_draft,
    cancel,
    delete_post,
    duplicate,
    publish_now,
    request_changes,
    submit_for_review,
)

__all__ = [
    "Actor",
    "BalanceConfirmationNeeded",
    "COMMENT_MAX",
    "DELETABLE",
    "EDITABLE",
    "IN_FLIGHT",
    "PostInput",
    "QUADRANTS",
    "SETTLED",
    "UNSENT",
    "add_comment",
    "approve",
    "back_to_draft",
    "calendar",
    "cancel",
    "content_for",
    "content_problems",
    "count_in_review",
    "create_post",
    "csvio",
    "delete_post",
    "duplicate",
    "get_post",
    "in_review_query",
    "input_from_post",
    "local_time_of",
    "media",
    "parse_local",
    "parse_tags",
    "publication_outcome",
    "publications_of",
    "publish_now",
    "request_changes",
    "reschedule",
    "review_thread",
    "review_queue",
    "schedule",
    "snapshot",
    "submit_for_review",
    "textrules",
    "to_utc",
    "update_post",
]
