"""The first-run checklist of a workspace: what a new team still has to do, read from real state.

Each item is ticked by what the database holds (an account, a queue slot, a second member, a
post, a DM prompt template or a post with a DM prompt), never by a click on the list itself.
The list is shown on the calendar (the workspace's home) until every required item is done or
the person hides it; hiding is per person and workspace (``membership.checklist_dismissed``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func
from sqlmodel import Session, col, select

from planner import team
from planner.models import (
    Account,
    Membership,
    Post,
    PromptTemplate,
    QueueSlot,
    Workspace,
    post_shown,
)


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    done: bool
    href: str
    hint: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Checklist:
    items: tuple[Item, ...]
    dismissed: bool

    @property
    def required_done(self) -> bool:
        return all(i.done for i in self.items if not i.optional)

    @property
    def shown(self) -> bool:
        return not self.dismissed and not self.required_done

    @property
    def progress(self) -> str:
        required = [i for i in self.items if not i.optional]
        return f"{sum(i.done for i in required)} of {len(required)} done"


def _state(session: Session, ws_id: int, user_id: int) -> tuple[bool, ...]:
    """Everything the list needs in one statement of EXISTS tests (the calendar is the
    workspace's home page: no row of a busy workspace is read to tick a box)."""
    posts = select(Post.id).where(Post.workspace_id == ws_id, post_shown())
    row = session.exec(select(  # type: ignore[call-overload]
        exists(select(Account.id).where(Account.workspace_id == ws_id)),
        exists(select(QueueSlot.id).join(Account, col(Account.id) == col(QueueSlot.account_id))
               .where(Account.workspace_id == ws_id)),
        select(func.count()).select_from(Membership)
        .where(Membership.workspace_id == ws_id).scalar_subquery() >= 2,
        exists(posts),
        exists(select(PromptTemplate.id).where(PromptTemplate.workspace_id == ws_id))
        | exists(posts.where(col(Post.dm_keyword) != "")),
        exists(select(Membership.id).where(Membership.workspace_id == ws_id,
                                           Membership.user_id == user_id,
                                           col(Membership.checklist_dismissed).is_(True))),
    )).one()
    return tuple(bool(value) for value in row)


def checklist(*, session: Session, workspace: Workspace, user_id: int) -> Checklist:
    """The checklist of ``workspace`` as ``user_id`` sees it (one query)."""
    ws_id = workspace.id or 0
    base = f"/w/{workspace.slug}"
    has_account, has_slots, has_members, has_post, has_dm, dismissed = _state(
        session, ws_id, user_id)
    items = (
        Item("account", "Connect an account", has_account, f"{base}/accounts",
             "Mastodon, Bluesky, X, LinkedIn, Meta or a webhook."),
        Item("slots", "Set queue slots", has_slots, f"{base}/slots",
             "Click the weekly times each account posts at; \"Add to queue\" uses them."),
        Item("member", "Invite a brand lead (or a second member)", has_members,
             f"{base}/settings#members",
             "A brand lead approves posts; an admin invites people by e-mail link in "
             "Settings, Members."),
        Item("post", "Write a first post", has_post, f"{base}/posts/new"),
        Item("dm", "Set up a DM prompt", has_dm, f"{base}/settings#prompts-title",
             "A keyword people send you by DM to get the link: save one as a template in "
             "Settings, or add one to a post in the composer.", optional=True),
    )
    return Checklist(items=items, dismissed=dismissed)


def dismiss(*, session: Session, workspace: Workspace, user_id: int) -> None:
    team.users.dismiss_checklist(session=session, workspace_id=workspace.id or 0,
                                 user_id=user_id)
