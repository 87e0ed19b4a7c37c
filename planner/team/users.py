"""People, their memberships and personal API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from planner.db import utcnow
from planner.errors import Conflict, FieldProblem, Forbidden, Invalid, NotFound
from planner.models import ROLE_RANK, ApiToken, Membership, Role, User, Workspace
from planner.team import audit, sessions

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A valid hash to verify against when the e-mail is unknown, so that a wrong e-mail and
    a wrong password take the same time and cannot be told apart. Made at the first login,
    not on import: every process importing this module (each publishing worker, a restart
    after a crash) would otherwise pay an Argon2 hash before doing anything."""
    return _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "poise_"  # noqa: S105 - a visible prefix, not a secret


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(*, session: Session, email: str, password: str, name: str = "") -> User:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise Invalid.at("email", "Enter a valid e-mail address.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid.at("password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(f"A user with e-mail {email} already exists.")
    user = User(email=email, name=name.strip() or email.split("@")[0],
                password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.record(session=session, action="user.created", entity="user", entity_id=user.id,
                 actor_id=None, workspace_id=None, after={"email": email})
    return user


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The user for these credentials, or None; never says which half was wrong."""
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def add_member(*, session: Session, workspace: Workspace, user: User, role: Role,
               actor_id: int | None = None) -> Membership:
    existing = session.exec(select(Membership).where(
        Membership.workspace_id == workspace.id, Membership.user_id == user.id)).first()
    if existing:
        existing.role = role
        membership = existing
    else:
        membership = Membership(workspace_id=workspace.id or 0, user_id=user.id or 0, role=role)
        session.add(membership)
    session.flush()
    audit.record(session=session, action="membership.set", entity="membership",
                 entity_id=membership.id, actor_id=actor_id, workspace_id=workspace.id,
                 after={"user": user.email, "role": str(role)})
    return membership


def role_in(*, session: Session, user_id: int, workspace_id: int) -> Role | None:
    membership = session.exec(select(Membership).where(
        Membership.workspace_id == workspace_id, Membership.user_id == user_id)).first()
    return Role(membership.role) if membership else None


def has_role(role: Role | None, minimum: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def workspaces_of(*, session: Session, user_id: int) -> list[tuple[Workspace, Role]]:
    rows = session.exec(
        select(Workspace, Membership.role)
        .join(Membership, col(Membership.workspace_id) == col(Workspace.id))
        .where(Membership.user_id == user_id)
        .order_by(col(Workspace.name))
    ).all()
    return [(workspace, Role(role)) for workspace, role in rows]


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once; only its hash is stored


def _token_hash(secret: str) -> str:
    # A random 256-bit secret needs no slow hash; sha256 makes lookups indexable.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_token(*, session: Session, user: User, name: str) -> IssuedToken:
    name = name.strip()
    if not name:
        raise Invalid.at("name", "Give the token a name, e.g. the script that will use it.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id or 0, name=name[:120], prefix=secret[:12],
                     token_hash=_token_hash(secret))
    session.add(token)
    session.flush()
    audit.record(session=session, action="api_token.issued", entity="api_token",
                 entity_id=token.id, actor_id=user.id, workspace_id=None, after={"name": name})
    return IssuedToken(token=token, secret=secret)


def user_for_token(*, session: Session, secret: str) -> User | None:
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret),
                                                col(ApiToken.revoked_at).is_(None))).first()
    if token is None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    token.last_used_at = utcnow()
    return user


def revoke_api_token(*, session: Session, user: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such API token.")
    token.revoked_at = token.revoked_at or utcnow()
    audit.record(session=session, action="api_token.revoked", entity="api_token",
                 entity_id=token.id, actor_id=user.id, workspace_id=None)
    return token


def tokens_of(*, session: Session, user: User) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user.id)
                             .order_by(col(ApiToken.created_at).desc())).all())


# --- ending access (issue 13) ---------------------------------------------------------------

def set_password(*, session: Session, user: User, password: str,
                 actor_id: int | None, keep_session: str = "") -> int:
    """A new password; every login of the user ends (but ``keep_session``, the browser that
    changed it). Returns how many ended."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid.at("password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    user.password_hash = hash_password(password)
    ended = sessions.end_all(session=session, user_id=user.id or 0, now=utcnow(),
                             except_token=keep_session)
    audit.record(session=session, action="user.password_changed", entity="user",
                 entity_id=user.id, actor_id=actor_id, workspace_id=None,
                 after={"sessions_ended": ended})
    return ended


class WrongPassword(Invalid):
    """The current password was wrong; the failure is recorded in the session, so the caller
    commits before answering (a rollback would forget the count)."""


def change_own_password(*, session: Session, user: User, current: str, new: str,
                        repeat: str, address: str, now: datetime, keep_session: str = "") -> int:
    """A person changes their own password; the current one is checked like a login (a wrong
    one counts towards the login throttle, and a throttled person waits). Every other login
    of theirs ends; returns how many."""
    sessions.check_throttle(session=session, email=user.email, address=address, now=now)
    if authenticate(session=session, email=user.email, password=current) is None:
        sessions.record_failure(session=session, email=user.email, address=address, now=now)
        raise WrongPassword("That is not your current password.", problems=[
            FieldProblem(("current_password",), "That is not your current password.")])
    if len(new) < MIN_PASSWORD_LENGTH:
        raise Invalid.at("new_password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if new != repeat:
        raise Invalid.at("repeat_password", "The two new passwords differ.")
    return set_password(session=session, user=user, password=new, actor_id=user.id,
                        keep_session=keep_session)


def set_active(*, session: Session, user: User, active: bool, actor_id: int | None) -> None:
    """Deactivate (every login ends, API tokens stop working) or reactivate a user."""
    if user.is_active == active:
        return
    user.is_active = active
    ended = 0 if active else sessions.end_all(session=session, user_id=user.id or 0,
                                              now=utcnow())
    audit.record(session=session, action="user.activated" if active else "user.deactivated",
                 entity="user", entity_id=user.id, actor_id=actor_id, workspace_id=None,
                 after={"sessions_ended": ended})


def remove_member(*, session: Session, workspace: Workspace, user_id: int,
                  actor_id: int | None) -> None:
    """Take a person out of a workspace. The last admin stays: someone must run it."""
    membership = session.exec(select(Membership).where(
        Membership.workspace_id == workspace.id, Membership.user_id == user_id)).first()
    if membership is None:
        raise NotFound("This person is not a member of the workspace.")
    if membership.role == Role.admin:
        admins = session.exec(select(Membership).where(
            Membership.workspace_id == workspace.id, Membership.role == Role.admin)).all()
        if len(admins) <= 1:
            raise Conflict("This is the workspace's last admin; make someone else admin "
                           "first.")
    before = {"user_id": user_id, "role": str(membership.role)}
    session.delete(membership)
    session.flush()
    audit.record(session=session, action="membership.removed", entity="membership",
                 entity_id=membership.id, actor_id=actor_id, workspace_id=workspace.id,
                 before=before)


def members_of(*, session: Session, workspace_id: int) -> list[tuple[User, Role]]:
    rows = session.exec(select(User, Membership.role).join(
        Membership, col(Membership.user_id) == col(User.id)).where(
        Membership.workspace_id == workspace_id).order_by(col(User.email))).all()
    return [(user, Role(role)) for user, role in rows]


def deactivate_member(*, session: Session, workspace: Workspace, user_id: int,
                      actor_id: int) -> User:
    """A workspace admin deactivates a member: only one who belongs to no workspace the admin
    does not run (a person elsewhere is that workspace's to decide), and never themselves."""
    if user_id == actor_id:
        raise Conflict("You cannot deactivate yourself; ask another admin.")
    user = session.get(User, user_id)
    theirs = {ws.id for ws, _ in workspaces_of(session=session, user_id=user_id)}
    if user is None or workspace.id not in theirs:
        raise NotFound("This person is not a member of the workspace.")
    run_by_actor = {ws.id for ws, role in workspaces_of(session=session, user_id=actor_id)
                    if role == Role.admin}
    if not theirs <= run_by_actor:
        raise Forbidden("This person also works in a workspace you do not administer; ask "
                        "the operator to deactivate them (python main.py deactivate).")
    set_active(session=session, user=user, active=False, actor_id=actor_id)
    return user


def checklist_dismissed(*, session: Session, workspace_id: int, user_id: int) -> bool:
    """Whether this person hid the workspace's first-run checklist."""
    row = session.exec(select(Membership).where(Membership.workspace_id == workspace_id,
                                                Membership.user_id == user_id)).first()
    return bool(row and row.checklist_dismissed)


def dismiss_checklist(*, session: Session, workspace_id: int, user_id: int,
                      dismissed: bool = True) -> None:
    """Hide (or show again) the first-run checklist for one person in one workspace."""
    row = session.exec(select(Membership).where(Membership.workspace_id == workspace_id,
                                                Membership.user_id == user_id)).first()
    if row is not None and row.checklist_dismissed != dismissed:
        row.checklist_dismissed = dismissed
        session.add(row)
        session.flush()
