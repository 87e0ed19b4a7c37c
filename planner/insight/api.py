"""REST API: what resonates, best times and channel health of a workspace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from planner.insight import service
from planner.insight.routes import report_range
from planner.models import Role
from planner.web.deps import Member, SessionDep, require_api
from planner.web.problems import COMMON_ERRORS

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["insight"])


@router.get("/insight", responses={**COMMON_ERRORS,
                                   422: {"description": "A bad date; the problem names it"}})
def get_insight(session: SessionDep,
                start: str | None = Query(None, alias="from", description="First day, "
                                          "YYYY-MM-DD (workspace time zone); default 90 days "
                                          "before 'to'"),
                end: str | None = Query(None, alias="to", description="Last day (inclusive); "
                                        "default today"),
                member: Member = require_api(Role.viewer)) -> dict[str, Any]:
    """Per account and per platform: each value quadrant's engagement relative to the
    channel's own typical post (``ratio``, with a 90% interval ``low``..``high`` and
    ``status`` higher / lower / no_clear_difference / not_enough_posts); best times where
    the interval excludes no effect; one health verdict per channel with the reason."""
    first, last, _, _ = report_range(member, start, end)
    result = service.report(session=session, workspace=member.workspace, start=first, end=last)
    return result.to_dict()
