"""Audit trail: who did what, when, with the state before and after."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from planner.models import AuditEvent


def record(*, session: Session, action: str, entity: str, entity_id: int | None,
           actor_id: int | None, workspace_id: int | None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditEvent:
    event = AuditEvent(
        action=action, entity=entity, entity_id=entity_id, actor_id=actor_id,
        workspace_id=workspace_id,
        before=json.dumps(before, default=str, sort_keys=True) if before is not None else "",
        after=json.dumps(after, default=str, sort_keys=True) if after is not None else "",
    )
    session.add(event)
    return event
