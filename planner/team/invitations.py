"""Invitations: an admin invites an e-mail address to a workspace with a role; the person
opens the link, creates an account (or logs in to the one they have) and joins.

The link carries a random token (``secrets.token_urlsafe(32)``, 256 bits); only its SHA-256
is stored, so the table cannot be replayed. A link works once (a conditional UPDATE claims
it, so two accepts racing each other cannot both win), for ``POISE_INVITATION_DAYS``, unless
an admin revokes it or invites the same address again (which replaces it). Every step is in
the audit trail.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from planner.errors import Forbidden, Invalid, NotFound, PlannerError
from planner.models import ROLE_RANK, Invitation, Membership, Role, User, Workspace
from planner.team import audit, mail, users

log = logging.getLogger(__name__)

ROLE_LABELS = {Role.viewer: "viewer", Role.manager: "manager", Role.brand_lead: "brand lead",
               Role.admin: "admin"}


class NoLongerValid(PlannerError):
    """The token is unknown, used, revoked or expired: one plain answer for all of them."""

    status_code = 404
    title = "Invitation not valid"

    def __init__(self, status_code: int = 404) -> None:
        super().__init__("This invitation link is no longer valid; ask your admin for a new "
                         "one.")
        self.status_code = status_code


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _valid_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid.at("role", "Choose viewer, manager, brand lead or admin.") from None


@dataclass(frozen=True)
class Issued:
    invitation: Invitation
    token: str  # the secret part of the link, shown once


def link_for(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/invite/{token}"


def invite(*, session: Session, workspace: Workspace, email: str, role: str, actor_id: int,
           now: datetime, days: int = 7) -> Issued:
    """A new invitation (admins; the caller checks the role). A pending invitation of the
    same address is replaced; a member cannot be invited again."""
    email = users.normalise_email(email)
    if "@" not in email or len(email) > 254 or not email.isprintable() or " " in email:
        raise Invalid.at("email", "Enter a valid e-mail address.")
    chosen = _valid_role(role)
    already = session.exec(select(Membership.id).join(
        User, col(User.id) == col(Membership.user_id)).where(
        col(Membership.workspace_id) == workspace.id, col(User.email) == email)).first()
    if already is not None:
        raise Invalid.at("email", f"{email} is already a member of this workspace; change "
                                  "their role in the list instead.")
    for old in session.exec(select(Invitation).where(
            col(Invitation.workspace_id) == workspace.id, col(Invitation.email) == email,
            col(Invitation.accepted_at).is_(None), col(Invitation.revoked_at).is_(None))).all():
        old.revoked_at = now
        session.add(old)
        audit.record(session=session, action="invitation.replaced", entity="invitation",
                     entity_id=old.id, actor_id=actor_id, workspace_id=workspace.id,
                     before={"email": email, "role": str(old.role)})
    token = secrets.token_urlsafe(32)
    invitation = Invitation(workspace_id=workspace.id or 0, email=email, role=chosen,
                            token_hash=_digest(token), created_by=actor_id, created_at=now,
                            expires_at=now + timedelta(days=days))
    session.add(invitation)
    session.flush()
    audit.record(session=session, action="invitation.created", entity="invitation",
                 entity_id=invitation.id, actor_id=actor_id, workspace_id=workspace.id,
                 after={"email": email, "role": str(chosen),
                        "expires_at": invitation.expires_at})
    return Issued(invitation=invitation, token=token)


def pending(*, session: Session, workspace_id: int, now: datetime) -> list[Invitation]:
    """Invitations still waiting (not used, revoked or expired), newest first."""
    return list(session.exec(select(Invitation).where(
        col(Invitation.workspace_id) == workspace_id, col(Invitation.accepted_at).is_(None),
        col(Invitation.revoked_at).is_(None), col(Invitation.expires_at) > now)
        .order_by(col(Invitation.created_at).desc())).all())


def revoke(*, session: Session, workspace: Workspace, invitation_id: int, actor_id: int,
           now: datetime) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if (invitation is None or invitation.workspace_id != workspace.id
            or invitation.accepted_at is not None or invitation.revoked_at is not None):
        raise NotFound("No such pending invitation.")
    invitation.revoked_at = now
    session.add(invitation)
    audit.record(session=session, action="invitation.revoked", entity="invitation",
                 entity_id=invitation.id, actor_id=actor_id, workspace_id=workspace.id,
                 before={"email": invitation.email, "role": str(invitation.role)})
    return invitation


@dataclass(frozen=True)
class Found:
    invitation: Invitation
    workspace: Workspace
    account_exists: bool  # an account with the invited e-mail exists: log in to accept


def look_up(*, session: Session, token: str, now: datetime) -> Found:
    """The live invitation of a link, or :class:`NoLongerValid` (404 for an unknown or used
    link, which says nothing more than "no"; 410 for a revoked or expired one)."""
    invitation = None
    if token and len(token) <= 100:
        invitation = session.exec(select(Invitation).where(
            col(Invitation.token_hash) == _digest(token))).first()
    if invitation is None or invitation.accepted_at is not None:
        raise NoLongerValid(404)
    if invitation.revoked_at is not None or invitation.expires_at <= now:
        raise NoLongerValid(410)
    workspace = session.get(Workspace, invitation.workspace_id)
    if workspace is None:
        raise NoLongerValid(404)
    exists = session.exec(select(User.id).where(User.email == invitation.email)).first()
    return Found(invitation=invitation, workspace=workspace, account_exists=exists is not None)


def _claim(session: Session, invitation: Invitation, now: datetime) -> None:
    """Mark the invitation used, if nobody did first: the UPDATE's WHERE decides, row-locked
    on PostgreSQL and under SQLite's write lock, so of two racing accepts exactly one wins."""
    result = session.execute(
        update(Invitation).where(col(Invitation.id) == invitation.id,
                                 col(Invitation.accepted_at).is_(None),
                                 col(Invitation.revoked_at).is_(None),
                                 col(Invitation.expires_at) > now)
        .values(accepted_at=now).execution_options(synchronize_session=False))
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise NoLongerValid(404)


def _join(session: Session, found: Found, user: User, now: datetime) -> Role:
    invitation = found.invitation
    session.execute(update(Invitation).where(col(Invitation.id) == invitation.id)
                    .values(accepted_by=user.id).execution_options(synchronize_session=False))
    role = Role(invitation.role)
    current = users.role_in(session=session, user_id=user.id or 0,
                            workspace_id=found.workspace.id or 0)
    if current is not None and ROLE_RANK[current] >= ROLE_RANK[role]:
        role = current  # accepting never lowers a role someone was given meanwhile
    users.add_member(session=session, workspace=found.workspace, user=user, role=role,
                     actor_id=user.id)
    audit.record(session=session, action="invitation.accepted", entity="invitation",
                 entity_id=invitation.id, actor_id=user.id, workspace_id=found.workspace.id,
                 after={"email": invitation.email, "role": str(role)})
    return role


def accept_new(*, session: Session, token: str, name: str, password: str, repeat: str,
               now: datetime) -> tuple[User, Found]:
    """Create the invited person's account and membership, in the caller's transaction."""
    found = look_up(session=session, token=token, now=now)
    if found.account_exists:
        raise Forbidden("An account with this e-mail exists already: log in to accept.")
    if len(password) < users.MIN_PASSWORD_LENGTH:
        raise Invalid.at("password", f"Use at least {users.MIN_PASSWORD_LENGTH} characters.")
    if password != repeat:
        raise Invalid.at("repeat", "The two passwords differ.")
    if len(name.strip()) > 120 or not name.isprintable():
        raise Invalid.at("name", "Use at most 120 characters, on one line.")
    _claim(session, found.invitation, now)  # first: a racing second accept stops here
    user = users.create_user(session=session, email=found.invitation.email, password=password,
                             name=name)
    _join(session, found, user, now)
    return user, found


def accept_existing(*, session: Session, token: str, user: User, now: datetime) -> Found:
    """The logged-in person joins, if the invitation is for their e-mail."""
    found = look_up(session=session, token=token, now=now)
    if users.normalise_email(user.email) != found.invitation.email:
        raise Forbidden("This invitation is for another e-mail address. Log out and open "
                        "the link again, or ask your admin to invite the address you use.")
    _claim(session, found.invitation, now)
    _join(session, found, user, now)
    return found


# --- the e-mail ---------------------------------------------------------------------------------

def email_link(*, smtp_url: str, sender: str, to: str, workspace_name: str, role: Role,
               link: str, days: int) -> str:
    """E-mail an invitation link (call with no transaction open); "" when it went out, else
    what went wrong, to show next to the link."""
    body = (f"You are invited to join {workspace_name} on Poise as {ROLE_LABELS[role]}.\n\n"
            f"Open this link to accept (it works once, for {days} days):\n{link}\n\n"
            "If you did not expect this, ignore this e-mail.")
    try:
        mail.send_now(smtp_url=smtp_url, sender=sender, to=to,
                      subject=f"Join {workspace_name[:100]} on Poise", body=body)
    except ValueError as exc:  # a malformed POISE_SMTP_URL
        return str(exc)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("invitation e-mail to %s failed: %s", to, exc)
        return f"{exc.__class__.__name__}: {str(exc)[:200]}"
    return ""
