"""Conversions (issue 7): tracked links, contacts, the inbox, attribution and channel health.

Public entry points: ``links.tracked_links_for`` (the dispatcher calls it when building what a
publication sends), ``dm_poll.poll_due`` (the worker polls X DMs), ``attribution.report``.
Routes: ``routes`` (Inbox, contacts, attribution, webhooks), ``api``.

Other areas use what this module exports; the inner modules are this area's own.
"""

from __future__ import annotations

from planner.conversions import (
    attribution,
    charts,
    contacts,
    credits,
    dm_poll,
    inbox,
    links,
    replies,
    webhooks,
)

__all__ = ["attribution", "charts", "contacts", "credits", "dm_poll", "inbox", "links", "replies",
           "webhooks"]
