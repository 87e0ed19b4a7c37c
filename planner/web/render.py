"""Templates and the render() helper: a whole page normally, only the partial for htmx."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from planner.settings import PROJECT_ROOT
from publishers import netguard

TEMPLATE_DIR = PROJECT_ROOT / "templates"
HTMX_VERSION = "2.0.11"  # vendored from the npm package htmx.org into static/js/htmx.min.js

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.globals["htmx_version"] = HTMX_VERSION


def _local(value: datetime | None, zone: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


templates.env.filters["local"] = _local
# Every URL that came from outside (a platform's answer) goes through this before an href.
templates.env.filters["safe_link"] = netguard.safe_link


def _live_link(publication: Any, account: Any) -> str:
    """``publication|live_link(account)``: where a published post can be seen (a sandbox
    post links to the sandbox's page of it, never to a real platform's address)."""
    from planner.accounts import live_post_url

    return live_post_url(account, getattr(publication, "remote_id", "") or "",
                         getattr(publication, "remote_url", "") or "")


templates.env.filters["live_link"] = _live_link


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get(
        "HX-Boosted") != "true"


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           partial: str | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render ``template``, or ``partial`` when htmx asked for a fragment and one is given."""
    name = partial if partial and is_htmx(request) else template
    ctx = dict(context or {})
    ctx.setdefault("user", getattr(request.state, "user", None))
    ctx.setdefault("workspace", getattr(request.state, "workspace", None))
    ctx.setdefault("role", getattr(request.state, "role", None))
    ctx.setdefault("memberships", getattr(request.state, "memberships", []))
    ctx.setdefault("nav_badges", getattr(request.state, "nav_badges", {}))
    ctx["csrf_token"] = csrf_token_for(request)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code,
                                      headers=headers)


def csrf_token_for(request: Request) -> str:
    from planner.web.security import csrf_token

    return csrf_token(request)


def template_exists(name: str) -> bool:
    return (Path(TEMPLATE_DIR) / name).exists()
