"""The compass applied to accounts: which posts count, with which settings, and what-ifs.

Published and scheduled (approved, not yet sent) publications of an account count; drafts and
posts in review do not, except as the "what if" of approving one. Only tagged posts take a
place in the window: the query filters untagged ones out before the LIMIT and reads only the
newest ``window`` rows through the (account_id, scheduled_at) index.

Settings come from the workspace, then the account's own overrides, then the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from compass import (
    QUADRANTS_ORDER,
    BalanceConfig,
    BalanceReport,
    Quadrant,
    TaggedItem,
    check_balance,
    parse_tags,
    render_compass_svg,
    render_trend_svg,
    what_if,
    what_if_warning,
    what_next,
)
from compass import settings as settings_rules
from compass.advice import Recommendation
from compass.headlines import format_count
from planner.db import utcnow
from planner.errors import FieldProblem, Invalid
from planner.localtime import parse_local, to_utc
from planner.models import (
    Account,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Workspace,
    post_shown,
)
from planner.team import audit

log = logging.getLogger(__name__)

SCHEDULED_STATES = (PublicationStatus.pending, PublicationStatus.claimed,
                    PublicationStatus.sending, PublicationStatus.retry_wait,
                    PublicationStatus.unknown)
OVERRIDE_KEYS = {"window", "min_sample", "alpha", "missing_after", "half_life_posts",
                 "half_life_days", "target"}
SETTING_LIMITS = settings_rules.SETTING_LIMITS
TARGET_FIELDS = settings_rules.TARGET_FIELDS
UNTAGGED_LISTED = 100  # untagged posts listed (not counted) alongside a window, at most


# --- settings ----------------------------------------------------------------------------------

def _overrides(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return {k: v for k, v in data.items() if k in OVERRIDE_KEYS} if isinstance(data, dict) \
        else {}


def account_overrides(account: Account) -> dict[str, Any]:
    """The account's own balance settings (empty: it follows the workspace)."""
    return _overrides(account.balance_overrides)


def workspace_settings(workspace: Workspace) -> dict[str, Any]:
    """The workspace's balance settings, with the target mix in fractions."""
    settings: dict[str, Any] = {
        "window": workspace.balance_window, "min_sample": workspace.balance_min_sample,
        "target": {"try": workspace.target_try / 100, "share": workspace.target_share / 100,
                   "care": workspace.target_care / 100, "learn": workspace.target_learn / 100},
    }
    settings.update(_overrides(workspace.balance_overrides))
    return settings


def config_for(workspace: Workspace, account: Account | None = None, *,
               window: int | None = None, date_from: datetime | None = None,
               date_to: datetime | None = None, half_life_posts: float | None = None,
               half_life_days: float | None = None) -> BalanceConfig:
    """Workspace settings, then the account's overrides, then this request's choices.

    A date range replaces the window (every tagged post in the range counts) unless a
    window is also given, which then takes the newest ``window`` posts of the range.
    """
    settings = workspace_settings(workspace)
    if account is not None:
        settings.update(account_overrides(account))
    if date_from or date_to:
        settings.update(window=window, date_from=date_from, date_to=date_to)
    elif window is not None:
        settings["window"] = window
    if half_life_posts is not None:
        settings["half_life_posts"] = half_life_posts
    if half_life_days is not None:
        settings["half_life_days"] = half_life_days
    try:
        return BalanceConfig(**settings)
    except (TypeError, ValueError) as exc:
        raise Invalid.at("balance", f"Balance settings are not valid: {exc}") from None


def parse_settings(values: Mapping[str, Any], *, required: Sequence[str] = ()) -> dict[str, Any]:
    """:func:`compass.settings.parse_settings`, its problems as field errors (422)."""
    try:
        return settings_rules.parse_settings(values, required=required)
    except settings_rules.SettingsError as exc:
        raise _invalid(exc) from None


def _invalid(exc: settings_rules.SettingsError) -> Invalid:
    return Invalid("Check the balance settings.",
                   problems=[FieldProblem((k,), v) for k, v in exc.problems.items()])


def _check_combined(settings: Mapping[str, Any]) -> None:
    """Settings that are fine one by one but not together (checked before anything changes)."""
    try:
        settings_rules.check_together(settings)
    except settings_rules.SettingsError as exc:
        raise _invalid(exc) from None


setting_values = settings_rules.setting_values


def effective_values(workspace: Workspace, account: Account | None = None) -> dict[str, Any]:
    """Every setting as it applies (to the account, if given), as form/API fields."""
    config = config_for(workspace, account)
    values: dict[str, Any] = {"window": config.window, "min_sample": config.min_sample,
                              "alpha": config.alpha, "missing_after": config.missing_after,
                              "half_life_posts": config.half_life_posts,
                              "half_life_days": config.half_life_days}
    values.update({f"target_{q}": round(config.target[q] * 100, 4) for q in QUADRANTS_ORDER})
    return values


def save_account_settings(*, session: Session, workspace: Workspace, account: Account,
                          values: Mapping[str, Any], actor_id: int | None) -> dict[str, Any]:
    """Replace the account's own balance settings; blank fields follow the workspace."""
    overrides = parse_settings(values)
    _check_combined({**workspace_settings(workspace), **overrides})
    before = account_overrides(account)
    account.balance_overrides = json.dumps(overrides, sort_keys=True) if overrides else ""
    session.add(account)
    audit.record(session=session, action="account.balance_settings", entity="account",
                 entity_id=account.id, actor_id=actor_id, workspace_id=workspace.id,
                 before=before, after=overrides)
    return overrides


def save_workspace_settings(*, session: Session, workspace: Workspace,
                            values: Mapping[str, Any], actor_id: int | None) -> None:
    """The workspace's target mix and rule settings (every account follows them by default)."""
    required = ("window", "min_sample", "alpha", "missing_after", *TARGET_FIELDS)
    settings = parse_settings(values, required=required)
    _check_combined(settings)
    before = {"targets": [workspace.target_try, workspace.target_share, workspace.target_care,
                          workspace.target_learn], "window": workspace.balance_window,
              "min_sample": workspace.balance_min_sample,
              "overrides": workspace.balance_overrides}
    target = settings.pop("target")
    workspace.target_try, workspace.target_share = target["try"] * 100, target["share"] * 100
    workspace.target_care, workspace.target_learn = target["care"] * 100, target["learn"] * 100
    workspace.balance_window = settings.pop("window")
    workspace.balance_min_sample = settings.pop("min_sample")
    workspace.balance_overrides = json.dumps(settings, sort_keys=True)
    session.add(workspace)
    audit.record(session=session, action="workspace.balance_settings", entity="workspace",
                 entity_id=workspace.id, actor_id=actor_id, workspace_id=workspace.id,
                 before=before, after={"targets": [target[q] * 100 for q in target],
                                       "window": workspace.balance_window,
                                       "min_sample": workspace.balance_min_sample,
                                       "overrides": settings})



# --- the window --------------------------------------------------------------------------------

def _counted(include_scheduled: bool) -> Any:
    published = col(Publication.status) == PublicationStatus.published
    if not include_scheduled:
        return published
    # Approved posts of an import that has not finished do not count yet.
    return or_(published, and_(col(Publication.status).in_(SCHEDULED_STATES),
                               col(Post.status) == PostStatus.approved, post_shown()))


def items_for_account(*, session: Session, account_id: int, config: BalanceConfig,
                      include_scheduled: bool = True, as_of: datetime | None = None,
                      exclude_post_id: int | None = None) -> list[TaggedItem]:
    """The account's counted publications for the window, newest first.

    Tagged posts fill the window; untagged ones between them (at most ``UNTAGGED_LISTED``)
    come along so the report can list them without counting them. ``as_of`` is inclusive,
    ``config.date_to`` exclusive. ``exclude_post_id`` leaves one post out (a what-if of it).
    """
    query = (select(Publication.id, Publication.scheduled_at, Publication.status, Post.tags)
             .join(Post, col(Post.id) == col(Publication.post_id))
             .where(col(Publication.account_id) == account_id,
                    col(Publication.scheduled_at).is_not(None), _counted(include_scheduled)))
    if as_of is not None:
        query = query.where(col(Publication.scheduled_at) <= as_of)
    if config.date_from is not None:
        query = query.where(col(Publication.scheduled_at) >= config.date_from)
    if config.date_to is not None:
        query = query.where(col(Publication.scheduled_at) < config.date_to)
    if exclude_post_id is not None:
        query = query.where(col(Publication.post_id) != exclude_post_id)
    newest_first = (col(Publication.scheduled_at).desc(), col(Publication.id).desc())
    tagged_query = query.where(col(Post.tags) != "").order_by(*newest_first)
    if config.window is not None:
        tagged_query = tagged_query.limit(config.window)
    items = _items(session.exec(tagged_query).all())
    untagged_query = query.where(col(Post.tags) == "")
    if items and config.window is not None:
        untagged_query = untagged_query.where(col(Publication.scheduled_at) >= items[-1].when)
    items += [i for i in _items(session.exec(untagged_query.order_by(*newest_first)
                                             .limit(UNTAGGED_LISTED)).all()) if not i.tags]
    return items


def _items(rows: Sequence[Any]) -> list[TaggedItem]:
    return [TaggedItem(key=str(pid), tags=_tags(tags), when=at,
                       scheduled=status != PublicationStatus.published)
            for pid, at, status, tags in rows if at is not None]


def _tags(raw: str) -> tuple[Quadrant, ...]:
    try:
        return parse_tags(raw) if raw else ()
    except ValueError:
        return ()


def _after_newest(items: Sequence[TaggedItem]) -> datetime:
    """Where a post without a time lands: after the newest counted post, and not in the past."""
    newest = max((i.when for i in items), default=None)
    now = utcnow()
    return max(now, newest + timedelta(seconds=1)) if newest else now


# --- reports -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountBalance:
    account: Account
    report: BalanceReport
    next_step: Recommendation | None
    compass_svg: str
    config: BalanceConfig
    overrides: dict[str, Any]
    trend_svg: str = ""


def balance_for_account(*, session: Session, workspace: Workspace, account: Account,
                        window: int | None = None, include_scheduled: bool = True,
                        as_of: datetime | None = None, date_from: datetime | None = None,
                        date_to: datetime | None = None, what_if_tags: Sequence[str] = (),
                        what_if_at: datetime | None = None,
                        half_life_posts: float | None = None,
                        half_life_days: float | None = None) -> BalanceReport:
    """The account's report; with ``what_if_tags``, as if one more post were approved.

    The what-if post lands at ``what_if_at``, else at ``as_of``, else after the newest post.
    """
    config = config_for(workspace, account, window=window, date_from=date_from,
                        date_to=date_to, half_life_posts=half_life_posts,
                        half_life_days=half_life_days)
    items = items_for_account(session=session, account_id=account.id or 0, config=config,
                              include_scheduled=include_scheduled, as_of=as_of)
    if not what_if_tags:
        return check_balance(items, config)
    try:
        tags = parse_tags(list(what_if_tags))
    except ValueError as exc:
        raise Invalid.at("what_if", str(exc)) from None
    when = what_if_at or as_of or _after_newest(items)
    return what_if(items, TaggedItem(key="what-if", tags=tags, when=when, scheduled=True),
                   config)


def workspace_balances(*, session: Session, workspace: Workspace, accounts: Sequence[Account],
                       window: int | None = None, include_scheduled: bool = True,
                       date_from: datetime | None = None, date_to: datetime | None = None,
                       with_trend: bool = False) -> list[AccountBalance]:
    """A card per account: report, what next, compass chart and (optionally) weekly trend."""
    result = []
    for account in accounts:
        config = config_for(workspace, account, window=window, date_from=date_from,
                            date_to=date_to)
        items = items_for_account(session=session, account_id=account.id or 0, config=config,
                                  include_scheduled=include_scheduled)
        report = check_balance(items, config)
        trend = ""
        if with_trend:
            # The range's end ("to" is exclusive), else now or the newest planned post.
            end = date_to - timedelta(microseconds=1) if date_to else max(
                [utcnow(), *(i.when for i in items if i.scheduled)])
            weeks = weekly_trend(session=session, account_id=account.id or 0, end=end,
                                 include_scheduled=include_scheduled)
            trend = render_trend_svg(weeks, title=f"Values by week, {account.handle}, 12 weeks "
                                                  f"to {end:%d %b %Y}")
        result.append(AccountBalance(
            account, report, what_next(report) if report.n else None,
            render_compass_svg(report, title=f"Compass balance of {account.handle}"),
            config, account_overrides(account), trend))
    return result


def weekly_trend(*, session: Session, account_id: int, weeks: int = 12,
                 end: datetime | None = None, now: datetime | None = None,
                 include_scheduled: bool = True
                 ) -> list[tuple[str, dict[Quadrant | str, float]]]:
    """Quadrant counts per week (oldest first) over the ``weeks`` weeks before ``end``.

    ``end`` defaults to now; pass a later time to show scheduled weeks ahead.
    """
    end = end or now or utcnow()
    start = end - timedelta(weeks=weeks)
    rows = session.exec(
        select(Publication.scheduled_at, Post.tags)
        .join(Post, col(Post.id) == col(Publication.post_id))
        .where(col(Publication.account_id) == account_id, col(Post.tags) != "",
               col(Publication.scheduled_at) >= start, col(Publication.scheduled_at) <= end,
               _counted(include_scheduled))).all()
    buckets: list[dict[Quadrant | str, float]] = [{} for _ in range(weeks)]
    for at, raw in rows:
        if at is None:
            continue
        index = min(int((at - start) / timedelta(weeks=1)), weeks - 1)
        tags = _tags(raw)
        for tag in tags:
            buckets[index][tag] = buckets[index].get(tag, 0.0) + 1 / len(tags)
    return [((start + timedelta(weeks=i)).strftime("%d %b"), bucket)
            for i, bucket in enumerate(buckets)]


# --- approving: impact per account -------------------------------------------------------------

@dataclass(frozen=True)
class BalanceImpact:
    """What approving a post does to one account's balance, in plain words."""

    account: Account
    changes: tuple[str, ...]  # e.g. "Try new things 7 -> 8 of last 20"
    warning: str | None  # e.g. "approving this makes Try new things overweight (9 of last 20)"

    @property
    def summary(self) -> str:
        return f"{'; '.join(self.changes)} on {self.account.handle}"


def approval_impacts(*, session: Session, workspace: Workspace, tags: Sequence[Quadrant],
                     accounts: Sequence[Account], post_id: int | None = None,
                     when: datetime | None = None) -> list[BalanceImpact]:
    """Per account: the post's quadrants before -> after, and a warning when a verdict worsens.

    The post's own publications are left out of "before" (no double count when it is already
    scheduled or being edited); it lands at ``when``, else after the newest post.
    """
    impacts = []
    for account in accounts:
        config = config_for(workspace, account)
        items = items_for_account(session=session, account_id=account.id or 0, config=config,
                                  exclude_post_id=post_id)
        before = check_balance(items, config)
        if not tags:
            impacts.append(BalanceImpact(account, ("Not tagged, so it does not count",), None))
            continue
        new = TaggedItem(key=f"post-{post_id or 'new'}", tags=tuple(tags), scheduled=True,
                         when=when or _after_newest(items))
        after = what_if(items, new, config)
        changes = tuple(_change(before, after, q) for q in tags)
        impacts.append(BalanceImpact(account, changes, what_if_warning(before, after)))
    return impacts


def _change(before: BalanceReport, after: BalanceReport, quadrant: Quadrant) -> str:
    old, new = before.quadrant(quadrant).count, after.quadrant(quadrant).count
    label = quadrant.label
    if before.n == after.n:
        return f"{label} {format_count(old)} -> {format_count(new)} of last {after.n}"
    return f"{label} {format_count(old)} of {before.n} -> {format_count(new)} of {after.n}"


def post_impacts(*, session: Session, workspace: Workspace, post: Post,
                 publications: Sequence[Publication]) -> list[BalanceImpact]:
    """:func:`approval_impacts` of a saved post on the accounts of its publications."""
    ids = sorted({p.account_id for p in publications})
    accounts = list(session.exec(select(Account).where(col(Account.id).in_(ids))).all()) \
        if ids else []
    accounts.sort(key=lambda a: ids.index(a.id or 0))
    return approval_impacts(session=session, workspace=workspace, tags=_tags(post.tags),
                            accounts=accounts, post_id=post.id, when=post.scheduled_at)


def approval_warnings(*, session: Session, workspace: Workspace, post: Post,
                      publications: Sequence[Publication]) -> list[str]:
    """Per target account: what approving this post would tip over, in plain words."""
    return [f"{i.account.handle}: {i.warning}"
            for i in post_impacts(session=session, workspace=workspace, post=post,
                                  publications=publications) if i.warning]


def composer_impacts(*, session: Session, workspace: Workspace, tags: Sequence[str],
                     account_ids: Sequence[int], post_id: int | None = None,
                     scheduled_local: str = "", fold: int | None = None
                     ) -> list[BalanceImpact]:
    """The composer's live what-if: unsaved tags and time, the edited post itself left out."""
    try:
        quadrants = parse_tags(list(tags))
    except ValueError:
        return []
    when = None
    if scheduled_local:
        try:
            when = to_utc(parse_local(scheduled_local), workspace.timezone,
                          fold=0 if fold is None else fold)
        except (Invalid, ValueError):
            when = None  # the form shows the time's problem; judge as if it came last
    wanted = set(account_ids)
    accounts = [a for a in session.exec(select(Account).where(
        Account.workspace_id == workspace.id).order_by(col(Account.handle))).all()
        if a.id in wanted]
    return approval_impacts(session=session, workspace=workspace, tags=quadrants,
                            accounts=accounts, post_id=post_id, when=when)


# --- the Balance page's what-if ------------------------------------------------------------------

WHAT_IF_MAX_POSTS = 10  # "how many more" on the Balance page: 1 to this


@dataclass(frozen=True)
class WhatIfRow:
    label: str
    quadrant: str
    before: str  # a count, e.g. "7" or "6.5"
    after: str
    before_flag: str  # overweight, missing, trending or ""
    after_flag: str


@dataclass(frozen=True)
class PageWhatIf:
    """What ``count`` more posts of ``tags`` would do to one account's balance."""

    account: Account
    tags: tuple[Quadrant, ...]
    count: int
    before: BalanceReport
    after: BalanceReport
    rows: tuple[WhatIfRow, ...]
    cleared: tuple[str, ...]  # warnings that go away, in words
    raised: tuple[str, ...]  # warnings that appear, in words
    compass_svg: str

    @property
    def summary(self) -> str:
        """e.g. "One more Care for others post on @brand: the Try new things overweight
        warning clears." """
        labels = " and ".join(q.label for q in self.tags)
        amount = "One more" if self.count == 1 else f"{_NUMBERS.get(self.count, self.count)} more"
        head = f"{amount} {labels} post{'s' if self.count > 1 else ''} on {self.account.handle}"
        changes = [*self.cleared, *self.raised]
        if not changes:
            state = ("still not enough posts to judge" if self.after.n < self.after.min_sample
                     else "no warning appears or clears")
            return f"{head}: {state}."
        return f"{head}: {'; '.join(changes)}."


_NUMBERS = {2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight",
            9: "Nine", 10: "Ten"}


def _flag(item: Any) -> str:
    if item.overweight:
        return "overweight"
    if item.missing:
        return "missing"
    return "trending" if getattr(item, "trending", False) else ""


def _warning_changes(before: BalanceReport, after: BalanceReport
                     ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cleared: list[str] = []
    raised: list[str] = []
    pairs: list[tuple[str, Any, Any]] = [
        (o.quadrant.label, o, a) for o, a in zip(before.quadrants, after.quadrants, strict=True)]
    pairs += [(f"the need for {o.need.value}", o, a)
              for o, a in zip(before.needs, after.needs, strict=True)]
    for label, old, new in pairs:
        was, now = _flag(old), _flag(new)
        if was == now:
            continue
        if was:
            cleared.append(f"the {label} {'trend' if was == 'trending' else was} warning "
                           "clears")
        if now == "trending":
            raised.append(f"{label} starts trending toward overweight")
        elif now == "overweight":
            count = format_count(getattr(new, "engaged", new.count))
            raised.append(f"{label} becomes overweight ({count} of the last {after.n})")
        elif now == "missing":
            raised.append(f"{label} becomes missing")
    return tuple(cleared), tuple(raised)


def page_what_if(*, session: Session, workspace: Workspace, account: Account,
                 tags: Sequence[str], count: int = 1, window: int | None = None,
                 include_scheduled: bool = True, date_from: datetime | None = None,
                 date_to: datetime | None = None) -> PageWhatIf:
    """The Balance page's what-if: ``count`` more posts of ``tags`` on ``account``, each
    landing after the newest counted post (inside the page's dates when it has some), judged
    with the page's window and filters; which warnings clear and which appear."""
    try:
        quadrants = parse_tags(list(tags))
    except ValueError as exc:
        raise Invalid.at("value", str(exc)) from None
    if not quadrants:
        raise Invalid.at("value", "Pick a value for the posts.")
    if not 1 <= count <= WHAT_IF_MAX_POSTS:
        raise Invalid.at("count", f"Choose 1 to {WHAT_IF_MAX_POSTS} posts.")
    config = config_for(workspace, account, window=window, date_from=date_from,
                        date_to=date_to)
    items = items_for_account(session=session, account_id=account.id or 0, config=config,
                              include_scheduled=include_scheduled)
    before = check_balance(items, config)
    newest = max((i.when for i in items), default=None)
    start = newest + timedelta(seconds=1) if (date_to and newest) else _after_newest(items)
    added = [TaggedItem(key=f"what-if-{i}", tags=quadrants, scheduled=True,
                        when=start + timedelta(minutes=i)) for i in range(count)]
    # The composer's and approval's what-if (compass.what_if), with the earlier added posts
    # counted as scheduled ones.
    after = what_if([*items, *added[:-1]], added[-1], config)
    rows = tuple(WhatIfRow(label=o.quadrant.label, quadrant=o.quadrant.value,
                           before=format_count(o.count), after=format_count(a.count),
                           before_flag=_flag(o), after_flag=_flag(a))
                 for o, a in zip(before.quadrants, after.quadrants, strict=True))
    cleared, raised = _warning_changes(before, after)
    return PageWhatIf(account=account, tags=quadrants, count=count, before=before, after=after,
                      rows=rows, cleared=cleared, raised=raised,
                      compass_svg=render_compass_svg(
                          after, title=f"Compass balance of {account.handle} after the what-if"))
