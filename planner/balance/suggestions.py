"""Value-tag suggestions per workspace: the configured suggester (``compass.suggest``), taught
by the workspace's newest confirmed tags, cached per workspace and warmed up at start."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from compass.suggest import Suggester, Suggestion, default_suggester
from compass.suggest.lexicon import LexiconSuggester
from planner.balance.service import _tags
from planner.models import Post, post_shown
from planner.settings import get_settings

log = logging.getLogger(__name__)

EXAMPLES_PER_WORKSPACE = 300  # the newest confirmed or hand-set tags teach the suggester
EXAMPLE_CHARS = 600  # an example's opening is what its vector compares (long ones cost seconds)
TEXT_CHARS = 20_000  # a suggestion reads at most this much of a text (the model reads less)
CACHED_WORKSPACES = 16

# workspace id -> (signature of its examples, suggester); least recently used first.
_suggesters: OrderedDict[int, tuple[tuple[Any, ...], Suggester]] = OrderedDict()
_lock = threading.Lock()


def _examples(session: Session, workspace_id: int) -> list[tuple[int | None, int, str, str]]:
    return [(pid, version, text, tags) for pid, version, text, tags in session.exec(
        select(Post.id, Post.version, Post.text, Post.tags).where(
            Post.workspace_id == workspace_id,
            col(Post.tag_source).in_(["confirmed", "manual"]), Post.tags != "", post_shown())
        .order_by(col(Post.id).desc()).limit(EXAMPLES_PER_WORKSPACE)).all()]


def suggester_for(*, session: Session, workspace_id: int) -> Suggester:
    """The configured suggester, taught by the workspace's newest confirmed tags.

    One suggester per workspace is kept (at most ``CACHED_WORKSPACES``, least recently used
    dropped). It is rebuilt when its examples change: a new, edited, re-tagged or removed
    example changes the signature (ids, versions and tags of the newest examples).
    """
    if get_settings().suggester == "lexicon":
        return LexiconSuggester()
    rows = _examples(session, workspace_id)
    signature = tuple((pid, version, tags) for pid, version, _, tags in rows)
    with _lock:
        cached = _suggesters.get(workspace_id)
        if cached is not None and cached[0] == signature:
            _suggesters.move_to_end(workspace_id)
            return cached[1]
    pairs = [(text[:EXAMPLE_CHARS], _tags(tags)) for _, _, text, tags in rows if _tags(tags)]
    suggester = default_suggester(pairs, reuse=cached[1] if cached else None)
    with _lock:
        _suggesters[workspace_id] = (signature, suggester)
        _suggesters.move_to_end(workspace_id)
        while len(_suggesters) > CACHED_WORKSPACES:
            _suggesters.popitem(last=False)
    return suggester


def clear_suggesters() -> None:
    """Forget every workspace's suggester (tests; after changing the model)."""
    with _lock:
        _suggesters.clear()


def suggest(*, session: Session, workspace_id: int, text: str) -> Suggestion:
    if not text.strip():
        return Suggestion(tags=(), scores={}, why="Write some text to get a suggestion.",
                          source="none")
    try:
        return suggester_for(session=session, workspace_id=workspace_id).suggest(
            text[:TEXT_CHARS])
    except Exception:  # the model must never block composing; fall back to the lexicon
        log.exception("suggester failed; using the lexicon")
        return LexiconSuggester().suggest(text)


def warm_up() -> None:
    """In the background: load the model, then build the suggesters of the most recently
    active workspaces (at most ``CACHED_WORKSPACES``), so that neither the first composer
    request nor a workspace's first suggestion after a restart waits for the model or for
    encoding its confirmed examples (up to 300, about 20 ms each)."""
    if get_settings().suggester == "lexicon":
        return
    threading.Thread(target=_warm, name="suggester-warm-up", daemon=True).start()


def _warm(engine: Engine | None = None) -> None:
    try:
        default_suggester().suggest("warm up")
        from planner.db import get_engine, session_scope

        with session_scope(engine or get_engine()) as session:  # reads only, short
            recent = session.exec(
                select(Post.workspace_id).group_by(col(Post.workspace_id))
                .order_by(func.max(Post.id).desc()).limit(CACHED_WORKSPACES)).all()
            # Least active first, so that the cache (least recently used) drops those first.
            built = [suggester_for(session=session, workspace_id=w) for w in reversed(recent)]
        for suggester in built:  # encodes each workspace's examples, outside any transaction
            suggester.suggest("warm up")
        log.info("suggester warm-up done (%d workspaces)", len(built))
    except Exception:  # optional; the suggester still answers, only later
        log.warning("suggester warm-up failed", exc_info=True)
