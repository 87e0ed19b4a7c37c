"""Workspaces (brands): creation, lookup by slug for a member, settings, DM prompt templates."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from planner.errors import FieldProblem, Forbidden, Invalid, NotFound
from planner.models import Membership, PromptTemplate, Role, Workspace
from planner.team import audit
from planner.team.users import has_role


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or "workspace"


def check_timezone(name: str) -> str:
    shown = repr(name) if len(name) <= 64 else "(a name too long to be one)"
    try:
        if len(name) > 64:  # the longest IANA name is 32; a long one made ZoneInfo raise OSError
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid.at("timezone", f"Unknown time zone {shown}; use an IANA name like "
                         "Europe/Warsaw.") from None
    return name


def clean_name(name: str) -> str:
    """One line: a newline in a workspace name broke the iCal feed for good."""
    return " ".join(name.split())


def create_workspace(*, session: Session, name: str, timezone: str,
                     actor_id: int | None = None) -> Workspace:
    name = clean_name(name)
    if not name:
        raise Invalid.at("name", "A workspace needs a name.")
    base = slugify(name)
    slug, n = base, 1
    while session.exec(select(Workspace).where(Workspace.slug == slug)).first():
        n += 1
        slug = f"{base}-{n}"
    workspace = Workspace(name=name, slug=slug, timezone=check_timezone(timezone),
                          feed_secret=secrets.token_urlsafe(24))
    session.add(workspace)
    session.flush()
    audit.record(session=session, action="workspace.created", entity="workspace",
                 entity_id=workspace.id, actor_id=actor_id, workspace_id=workspace.id,
                 after={"name": name, "timezone": timezone})
    return workspace


def workspace_for_member(*, session: Session, slug: str, user_id: int) -> tuple[Workspace, Role]:
    """The workspace and the user's role in it; 404 for non-members so nothing leaks."""
    row = session.exec(
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)  # type: ignore[arg-type]
        .where(Workspace.slug == slug, Membership.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound("No such workspace.")
    return row[0], Role(row[1])


def workspace_by_id_for_member(*, session: Session, workspace_id: int,
                               user_id: int) -> tuple[Workspace, Role]:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("No such workspace.")
    return workspace_for_member(session=session, slug=workspace.slug, user_id=user_id)


# --- settings ----------------------------------------------------------------------------------

MAX_DAILY_CAP = 50
_CAMPAIGN = re.compile(r"^[A-Za-z0-9._~-]{1,80}$")


@dataclass
class WorkspaceSettingsInput:
    """A patch of a workspace's settings: None leaves a value as it is."""

    name: str | None = None
    timezone: str | None = None
    daily_cap_per_account: int | None = None
    utm_campaign: str | None = None


def _settings_snapshot(workspace: Workspace) -> dict[str, object]:
    return {"name": workspace.name, "timezone": workspace.timezone,
            "daily_cap_per_account": workspace.daily_cap_per_account,
            "utm_campaign": workspace.utm_campaign}


def update_settings(*, session: Session, workspace: Workspace, role: Role, actor_id: int,
                    data: WorkspaceSettingsInput) -> Workspace:
    """Change a workspace's name, zone, daily cap or UTM campaign (admins only).

    Every problem is reported at its field in one go. Changing the zone never moves a post:
    scheduled posts keep their instant and are shown in the new zone.
    """
    if not has_role(role, Role.admin):
        raise Forbidden("Only admins can change the workspace settings.")
    problems: list[FieldProblem] = []
    name = clean_name(data.name) if data.name is not None else None
    if name is not None and not name:
        problems.append(FieldProblem(("name",), "A workspace needs a name."))
    elif name is not None and len(name) > 120:
        problems.append(FieldProblem(("name",), "Use at most 120 characters."))
    zone = data.timezone.strip() if data.timezone is not None else None
    if zone is not None:
        try:
            check_timezone(zone)
        except Invalid as exc:
            problems.extend(exc.problems)
    cap = data.daily_cap_per_account
    if cap is not None and not 0 <= cap <= MAX_DAILY_CAP:
        problems.append(FieldProblem(("daily_cap_per_account",),
                                     f"Use 0 (no cap) to {MAX_DAILY_CAP} posts per account "
                                     "and day."))
    campaign = data.utm_campaign.strip() if data.utm_campaign is not None else None
    if campaign is not None and not _CAMPAIGN.match(campaign):
        problems.append(FieldProblem(("utm_campaign",),
                                     "Use 1 to 80 letters, digits, '-', '_', '.' or '~' (it "
                                     "goes into every product link as utm_campaign)."))
    if problems:
        raise Invalid("Some settings are not valid; nothing was changed.", problems=problems)
    before = _settings_snapshot(workspace)
    if name is not None:
        workspace.name = name
    if zone is not None:
        workspace.timezone = zone
    if cap is not None:
        workspace.daily_cap_per_account = cap
    if campaign is not None:
        workspace.utm_campaign = campaign
    session.add(workspace)
    session.flush()
    after = _settings_snapshot(workspace)
    if after != before:
        audit.record(session=session, action="workspace.settings", entity="workspace",
                     entity_id=workspace.id, actor_id=actor_id, workspace_id=workspace.id,
                     before=before, after=after)
    return workspace


# --- DM prompt templates -----------------------------------------------------------------------

@dataclass
class PromptTemplateInput:
    name: str = ""
    keyword: str = ""
    product_url: str = ""
    prefill: str = ""
    call_to_action: str = ""


_TEMPLATE_LIMITS = {"name": 80, "keyword": 40, "product_url": 2000, "prefill": 500,
                    "call_to_action": 200}


def list_prompt_templates(*, session: Session, workspace_id: int) -> list[PromptTemplate]:
    return list(session.exec(select(PromptTemplate)
                             .where(PromptTemplate.workspace_id == workspace_id)
                             .order_by(col(PromptTemplate.name))).all())


def get_prompt_template(*, session: Session, workspace_id: int,
                        template_id: int) -> PromptTemplate:
    template = session.get(PromptTemplate, template_id)
    if template is None or template.workspace_id != workspace_id:
        raise NotFound("No such DM prompt template in this workspace.")
    return template


def _clean_template(session: Session, workspace_id: int, data: PromptTemplateInput,
                    template_id: int | None) -> PromptTemplateInput:
    clean = PromptTemplateInput(**{k: str(getattr(data, k) or "").strip()
                                   for k in _TEMPLATE_LIMITS})
    problems = [FieldProblem((k,), f"Use at most {limit} characters.")
                for k, limit in _TEMPLATE_LIMITS.items() if len(getattr(clean, k)) > limit]
    if not clean.name:
        problems.append(FieldProblem(("name",), "Give the template a name, e.g. 'Glow serum'."))
    if not clean.keyword:
        problems.append(FieldProblem(("keyword",), "A DM prompt needs a keyword people send, "
                                     "e.g. GLOW."))
    elif any(ch.isspace() for ch in clean.keyword):
        problems.append(FieldProblem(("keyword",), "Use one word as the keyword, so it is easy "
                                     "to type in a DM."))
    if not clean.product_url.lower().startswith(("http://", "https://")):
        problems.append(FieldProblem(("product_url",),
                                     "The product link must start with http:// or https://."))
    if clean.name and not problems:
        clash = session.exec(select(PromptTemplate.id).where(
            PromptTemplate.workspace_id == workspace_id,
            PromptTemplate.name == clean.name)).first()
        if clash is not None and clash != template_id:
            problems.append(FieldProblem(("name",), f"A template named {clean.name!r} exists "
                                         "already; pick another name."))
    if problems:
        raise Invalid("The template was not saved: fix the highlighted fields.",
                      problems=problems)
    return clean


def _template_snapshot(template: PromptTemplate) -> dict[str, object]:
    return {k: getattr(template, k) for k in _TEMPLATE_LIMITS}


def _require_manager(role: Role) -> None:
    if not has_role(role, Role.manager):
        raise Forbidden("Viewers cannot change DM prompt templates; ask an admin for the "
                        "manager role.")


def create_prompt_template(*, session: Session, workspace_id: int, role: Role, actor_id: int,
                           data: PromptTemplateInput, now: datetime) -> PromptTemplate:
    _require_manager(role)
    clean = _clean_template(session, workspace_id, data, None)
    template = PromptTemplate(workspace_id=workspace_id, created_at=now, updated_at=now,
                              **{k: getattr(clean, k) for k in _TEMPLATE_LIMITS})
    session.add(template)
    session.flush()
    audit.record(session=session, action="prompt_template.created", entity="prompt_template",
                 entity_id=template.id, actor_id=actor_id, workspace_id=workspace_id,
                 after=_template_snapshot(template))
    return template


def update_prompt_template(*, session: Session, workspace_id: int, role: Role, actor_id: int,
                           template_id: int, data: PromptTemplateInput,
                           now: datetime) -> PromptTemplate:
    _require_manager(role)
    template = get_prompt_template(session=session, workspace_id=workspace_id,
                                   template_id=template_id)
    clean = _clean_template(session, workspace_id, data, template.id)
    before = _template_snapshot(template)
    for key in _TEMPLATE_LIMITS:
        setattr(template, key, getattr(clean, key))
    template.updated_at = now
    session.add(template)
    session.flush()
    audit.record(session=session, action="prompt_template.updated", entity="prompt_template",
                 entity_id=template.id, actor_id=actor_id, workspace_id=workspace_id,
                 before=before, after=_template_snapshot(template))
    return template


def delete_prompt_template(*, session: Session, workspace_id: int, role: Role, actor_id: int,
                           template_id: int) -> None:
    """Remove a template; posts that used it keep their own copy of the prompt."""
    _require_manager(role)
    template = get_prompt_template(session=session, workspace_id=workspace_id,
                                   template_id=template_id)
    before = _template_snapshot(template)
    session.delete(template)
    session.flush()
    audit.record(session=session, action="prompt_template.deleted", entity="prompt_template",
                 entity_id=template_id, actor_id=actor_id, workspace_id=workspace_id,
                 before=before)


def rotate_feed_secret(*, session: Session, workspace: Workspace, actor_id: int) -> str:
    """A new calendar-feed address; the old one stops working at once (a leaked feed URL)."""
    workspace.feed_secret = secrets.token_urlsafe(24)
    session.add(workspace)
    audit.record(session=session, action="workspace.feed_rotated", entity="workspace",
                 entity_id=workspace.id, actor_id=actor_id, workspace_id=workspace.id)
    return workspace.feed_secret
