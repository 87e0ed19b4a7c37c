"""The compass applied to accounts: which posts count, with which settings, and what-ifs.

Published and scheduled (approved, not yet sent) publications of an account count; drafts and
posts in review do not, except as the "what if" of approving one. The window query reads only
the newest ``window`` rows through the (account_id, scheduled_at) index.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from compass import (
    BalanceConfig,
    BalanceReport,
    Quadrant,
    TaggedItem,
    approval_warning,
    check_balance,
    parse_tags,
    what_if,
    what_next,
)
from compass.advice import Recommendation
from compass.suggest import Suggestion, default_suggester
from compass.suggest.lexicon import LexiconSuggester
from planner.errors import Invalid
from planner.models import (
    Account,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Workspace,
)
from planner.settings import get_settings

log = logging.getLogger(__name__)

SCHEDULED_STATES = (PublicationStatus.pending, PublicationStatus.claimed,
                    PublicationStatus.sending, PublicationStatus.retry_wait,
                    PublicationStatus.unknown)
OVERRIDE_KEYS = {"window", "min_sample", "alpha", "missing_after", "half_life_posts",
                 "half_life_days", "target"}


def _overrides(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return {k: v for k, v in data.items() if k in OVERRIDE_KEYS} if isinstance(data, dict) \
        else {}


def config_for(workspace: Workspace, account: Account | None = None, *,
               window: int | None = None, date_from: datetime | None = None,
               date_to: datetime | None = None) -> BalanceConfig:
    """Workspace settings, then the account's overrides, then this request's choices."""
    settings: dict[str, Any] = {
        "window": workspace.balance_window, "min_sample": workspace.balance_min_sample,
        "target": {"try": workspace.target_try / 100, "share": workspace.target_share / 100,
                   "care": workspace.target_care / 100, "learn": workspace.target_learn / 100},
    }
    settings.update(_overrides(workspace.balance_overrides))
    if account is not None:
        settings.update(_overrides(account.balance_overrides))
    if window is not None:
        settings["window"] = window
    if date_from or date_to:
        settings.update(window=None, date_from=date_from, date_to=date_to)
    try:
        return BalanceConfig(**settings)
    except (TypeError, ValueError) as exc:
        raise Invalid.at("balance", f"Balance settings are not valid: {exc}") from None


def _counted(include_scheduled: bool) -> Any:
    published = col(Publication.status) == PublicationStatus.published
    if not include_scheduled:
        return published
    return or_(published, and_(col(Publication.status).in_(SCHEDULED_STATES),
                               col(Post.status) == PostStatus.approved))


def items_for_account(*, session: Session, account_id: int, config: BalanceConfig,
                      include_scheduled: bool = True, as_of: datetime | None = None,
                      ) -> list[TaggedItem]:
    """The account's counted publications for the window, newest first."""
    query = (select(Publication.id, Publication.scheduled_at, Publication.status, Post.tags)
             .join(Post, col(Post.id) == col(Publication.post_id))
             .where(col(Publication.account_id) == account_id,
                    col(Publication.scheduled_at).is_not(None),
                    _counted(include_scheduled)))
    if as_of is not None:
        query = query.where(col(Publication.scheduled_at) <= as_of)
    if config.date_from is not None:
        query = query.where(col(Publication.scheduled_at) >= config.date_from)
    if config.date_to is not None:
        query = query.where(col(Publication.scheduled_at) <= config.date_to)
    query = query.order_by(col(Publication.scheduled_at).desc(), col(Publication.id).desc())
    if config.window is not None and config.date_from is None and config.date_to is None:
        query = query.limit(config.window)
    return [TaggedItem(key=str(pid), tags=_tags(tags), when=at,
                       scheduled=status != PublicationStatus.published)
            for pid, at, status, tags in session.exec(query).all() if at is not None]


def _tags(raw: str) -> tuple[Quadrant, ...]:
    try:
        return parse_tags(raw) if raw else ()
    except ValueError:
        return ()


@dataclass(frozen=True)
class AccountBalance:
    account: Account
    report: BalanceReport
    next_step: Recommendation | None
    compass_svg: str


def balance_for_account(*, session: Session, workspace: Workspace, account: Account,
                        window: int | None = None, include_scheduled: bool = True,
                        as_of: datetime | None = None, date_from: datetime | None = None,
                        date_to: datetime | None = None,
                        what_if_tags: Sequence[str] = ()) -> BalanceReport:
    config = config_for(workspace, account, window=window, date_from=date_from,
                        date_to=date_to)
    items = items_for_account(session=session, account_id=account.id or 0, config=config,
                              include_scheduled=include_scheduled, as_of=as_of)
    if what_if_tags:
        try:
            tags = parse_tags(list(what_if_tags))
        except ValueError as exc:
            raise Invalid.at("what_if", str(exc)) from None
        when = as_of or (items[0].when + timedelta(seconds=1) if items else datetime.now()
                         .astimezone())
        return what_if(items, TaggedItem(key="what-if", tags=tags, when=when, scheduled=True),
                       config)
    return check_balance(items, config)


def workspace_balances(*, session: Session, workspace: Workspace, accounts: Sequence[Account],
                       window: int | None = None, include_scheduled: bool = True
                       ) -> list[AccountBalance]:
    from compass import render_compass_svg

    result = []
    for account in accounts:
        report = balance_for_account(session=session, workspace=workspace, account=account,
                                     window=window, include_scheduled=include_scheduled)
        advice = what_next(report) if report.n else None
        result.append(AccountBalance(account, report, advice, render_compass_svg(
            report, title=f"Compass balance of {account.handle}")))
    return result


def approval_warnings(*, session: Session, workspace: Workspace, post: Post,
                      publications: Sequence[Publication]) -> list[str]:
    """Per target account: what approving this post would tip over, in plain words."""
    tags = _tags(post.tags)
    if not tags:
        return []
    warnings = []
    for publication in publications:
        account = session.get(Account, publication.account_id)
        if account is None:
            continue
        config = config_for(workspace, account)
        items = [i for i in items_for_account(session=session, account_id=account.id or 0,
                                              config=config)
                 if i.key != str(publication.id)]
        when = post.scheduled_at or (items[0].when if items else datetime.now().astimezone())
        message = approval_warning(items, TaggedItem(key=str(publication.id), tags=tags,
                                                     when=when, scheduled=True), config)
        if message:
            warnings.append(f"{account.handle}: {message}")
    return warnings


def weekly_trend(*, session: Session, account_id: int, weeks: int = 12, now: datetime
                 ) -> list[tuple[str, dict[Quadrant | str, float]]]:
    """Quadrant counts per week (oldest first) over the last ``weeks`` weeks."""
    start = now - timedelta(weeks=weeks)
    rows = session.exec(
        select(Publication.scheduled_at, Post.tags)
        .join(Post, col(Post.id) == col(Publication.post_id))
        .where(col(Publication.account_id) == account_id,
               col(Publication.scheduled_at) >= start, col(Publication.scheduled_at) <= now,
               _counted(True))).all()
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


# --- suggestions -------------------------------------------------------------------------------

_suggesters: dict[tuple[int, int], Any] = {}
_lock = threading.Lock()


def suggester_for(*, session: Session, workspace_id: int) -> Any:
    """The configured suggester, taught by the workspace's confirmed tags (cached)."""
    mode = get_settings().suggester
    if mode == "lexicon":
        return LexiconSuggester()
    examples = session.exec(select(Post.text, Post.tags).where(
        Post.workspace_id == workspace_id, col(Post.tag_source).in_(["confirmed", "manual"]),
        Post.tags != "").order_by(col(Post.id).desc()).limit(300)).all()
    key = (workspace_id, len(examples))
    with _lock:
        if key not in _suggesters:
            pairs = [(text, _tags(tags)) for text, tags in examples if _tags(tags)]
            _suggesters[key] = default_suggester(pairs)
        return _suggesters[key]


def suggest(*, session: Session, workspace_id: int, text: str) -> Suggestion:
    if not text.strip():
        return Suggestion(tags=(), scores={}, why="Write some text to get a suggestion.",
                          source="none")
    try:
        return suggester_for(session=session, workspace_id=workspace_id).suggest(text)
    except Exception:  # the model must never block composing; fall back to the lexicon
        log.exception("suggester failed; using the lexicon")
        return LexiconSuggester().suggest(text)


def warm_up() -> None:
    """Load the embedding model in the background so the first composer request is quick."""
    if get_settings().suggester == "lexicon":
        return

    def load() -> None:
        try:
            default_suggester().suggest("warm up")
        except Exception:  # optional; the lexicon still answers
            log.warning("suggester warm-up failed", exc_info=True)

    threading.Thread(target=load, name="suggester-warm-up", daemon=True).start()
