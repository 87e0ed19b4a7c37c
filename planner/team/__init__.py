"""Who works here: workspaces and their settings, users, memberships and API tokens, the audit
trail, notifications and invitations. Routes: ``routes`` (settings pages), ``routes_auth`` (log
in and out), ``routes_invites`` (invitations, your own password, and their API),
``routes_notifications``, ``api`` (me, workspaces, accounts list, prompt templates).

Other areas use what this module exports; the inner modules are this area's own.
"""

from __future__ import annotations

from planner.team import audit, invitations, mail, notifications, sessions, users, workspaces
from planner.team.notifications import unread_count, unread_query
from planner.team.users import has_role

__all__ = [
    "audit",
    "has_role",
    "invitations",
    "mail",
    "notifications",
    "sessions",
    "unread_count",
    "unread_query",
    "users",
    "workspaces",
]
