"""CSV import (all or nothing) and export of a workspace's calendar, and its iCalendar feed.

Import columns (header row required; order free; names case-insensitive):
  local_time   YYYY-MM-DD HH:MM in the workspace's zone (empty = unscheduled draft)
  accounts     account handles separated by ';' (e.g. "@juniper@coffee.social;juniper.bsky.social")
  text         the post text
  tags         optional quadrants separated by ';' or ',' (try, share, care, learn)
  link         optional http(s) link
  dm_keyword, dm_product_url, dm_prefill   optional DM prompt
  fold         optional 0/1 for a wall time that happens twice (clocks going back)
  submit       optional yes/no: submit the imported post for review
Export writes the same columns plus status, platform and post_id, which import ignores, so an
exported file can be edited and imported again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event
from sqlmodel import Session, col, select

from planner import calendar, posts, schedule
from planner.errors import FieldProblem, Invalid, PlannerError
from planner.models import Account, Post, Publication, PublicationStatus, Workspace

REQUIRED = ("local_time", "accounts", "text")
OPTIONAL = ("tags", "link", "dm_keyword", "dm_product_url", "dm_prefill", "fold", "submit")
EXPORT_ONLY = ("status", "platform", "post_id")  # written by export, ignored by import
MAX_ROWS = 10_000


@dataclass(frozen=True)
class ImportResult:
    created: int
    submitted: int


def _rows(raw: bytes | str) -> list[dict[str, str]]:
    text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise Invalid.at("file", "The file is empty; the first row must name the columns.")
    names = [n.strip().lower() for n in reader.fieldnames]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise Invalid.at("file", f"Missing column(s): {', '.join(missing)}. Required: "
                         f"{', '.join(REQUIRED)}.")
    unknown = [n for n in names if n not in REQUIRED + OPTIONAL + EXPORT_ONLY]
    if unknown:
        raise Invalid.at("file", f"Unknown column(s): {', '.join(unknown)}.")
    reader.fieldnames = names
    rows = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    if len(rows) > MAX_ROWS:
        raise Invalid.at("file", f"At most {MAX_ROWS} rows per import; split the file.")
    if not rows:
        raise Invalid.at("file", "The file has a header but no posts.")
    return rows


def import_csv(*, session: Session, actor: posts.Actor, raw: bytes | str, now: datetime,
               progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Validate every row, then create every post; any problem refuses the whole file.

    Problems carry ``("line", n, column)`` paths; line numbers count the header as line 1.
    The caller's transaction makes it all-or-nothing: on Invalid, roll back.
    """
    rows = _rows(raw)
    handles = {a.handle.lower(): a for a in session.exec(
        select(Account).where(Account.workspace_id == actor.workspace_id)).all()}
    problems: list[FieldProblem] = []
    prepared: list[tuple[int, posts.PostInput, bool]] = []
    for index, row in enumerate(rows):
        line = index + 2
        data, row_problems = _row_input(row, handles, line)
        problems.extend(row_problems)
        prepared.append((line, data, row.get("submit", "").lower() in ("yes", "y", "true", "1")))
    if problems:
        raise Invalid(f"Nothing was imported: {len(problems)} problem(s) in the file.",
                      problems=problems)
    created = submitted = 0
    for done, (line, data, submit) in enumerate(prepared, start=1):
        try:
            # A savepoint per row keeps a failed row from poisoning the transaction, so
            # every row's problems are collected before the whole file is refused.
            with session.begin_nested():
                post = posts.create_post(session=session, actor=actor, data=data, now=now)
                if submit:
                    posts.submit_for_review(session=session, actor=actor, post_id=post.id or 0,
                                            expected_version=post.version, now=now)
                    submitted += 1
            created += 1
        except PlannerError as exc:
            problems.extend(_at_line(line, exc))
        if progress:
            progress(done, len(prepared))
    if problems:
        raise Invalid(f"Nothing was imported: {len(problems)} problem(s) in the file.",
                      problems=problems)
    return ImportResult(created=created, submitted=submitted)


def _row_input(row: dict[str, str], handles: dict[str, Account], line: int
               ) -> tuple[posts.PostInput, list[FieldProblem]]:
    problems = []
    account_ids = []
    names = [h.strip() for h in row.get("accounts", "").split(";") if h.strip()]
    if not names:
        problems.append(FieldProblem(("line", line, "accounts"), "Name at least one account."))
    for name in names:
        account = handles.get(name.lower())
        if account is None:
            problems.append(FieldProblem(("line", line, "accounts"),
                                         f"No account {name!r} in this workspace."))
        else:
            account_ids.append(account.id or 0)
    if not row.get("text"):
        problems.append(FieldProblem(("line", line, "text"), "The text is empty."))
    for column, check in (("tags", lambda v: posts.parse_tags([v.replace(";", ",")])),
                          ("local_time", lambda v: v and schedule.parse_local(v))):
        try:
            check(row.get(column, ""))
        except Invalid as exc:
            problems.append(FieldProblem(("line", line, column), exc.message))
    fold_raw = row.get("fold", "")
    if fold_raw not in ("", "0", "1"):
        problems.append(FieldProblem(("line", line, "fold"), "fold must be 0 or 1."))
    data = posts.PostInput(
        text=row.get("text", ""), account_ids=account_ids, link=row.get("link", ""),
        tags=[t for t in row.get("tags", "").replace(";", ",").split(",") if t.strip()],
        dm_keyword=row.get("dm_keyword", ""), dm_product_url=row.get("dm_product_url", ""),
        dm_prefill=row.get("dm_prefill", ""), scheduled_local=row.get("local_time", ""),
        fold=int(fold_raw) if fold_raw in ("0", "1") else None)
    return data, problems


def _at_line(line: int, exc: PlannerError) -> list[FieldProblem]:
    if not exc.problems:
        return [FieldProblem(("line", line), exc.message)]
    column = {"scheduled_local": "local_time", "account_ids": "accounts"}
    return [FieldProblem(("line", line, column.get(p.field.split(".")[0], p.field)), p.message)
            for p in exc.problems]


def export_csv(*, session: Session, workspace: Workspace, start: date, days: int,
               filters: calendar.Filters = calendar.Filters()) -> str:
    """The range's publications in the import format plus their status and account."""
    cards, _ = calendar.list_view(session=session, workspace_id=workspace.id or 0,
                                  zone=workspace.timezone, start=start, days=days,
                                  filters=filters, limit=1_000_000)
    post_ids = sorted({c.post_id for c in cards})
    full = {p.id: p for p in session.exec(select(Post).where(col(Post.id).in_(post_ids))).all()}
    variants = dict(session.exec(select(Publication.id, Publication.text_variant).where(
        col(Publication.id).in_([c.publication_id for c in cards]))).all())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["local_time", "accounts", "text", "tags", "link", "dm_keyword",
                     "dm_product_url", "dm_prefill", "status", "platform", "post_id"])
    for card in cards:
        post = full[card.post_id]
        writer.writerow([card.local.strftime("%Y-%m-%d %H:%M"), card.handle,
                         variants.get(card.publication_id) or post.text,
                         post.tags.replace(",", ";"),
                         post.link, post.dm_keyword, post.dm_product_url, post.dm_prefill,
                         card.display_status, card.platform, post.id])
    return out.getvalue()


def ical_feed(*, session: Session, workspace: Workspace, today: date, days_back: int = 31,
              days_ahead: int = 92) -> bytes:
    """An iCalendar feed of publications around today (for Google/Outlook subscriptions)."""
    cards, _ = calendar.list_view(session=session, workspace_id=workspace.id or 0,
                                  zone=workspace.timezone, start=today - timedelta(days_back),
                                  days=days_back + days_ahead, limit=5000)
    cal = Calendar()
    cal.add("prodid", "-//Poise//Content calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{workspace.name} (Poise)")
    cal.add("x-wr-timezone", workspace.timezone)
    for card in cards:
        if card.status == PublicationStatus.cancelled:
            continue
        event = Event()
        event.add("uid", f"publication-{card.publication_id}@poise")
        event.add("summary", f"[{card.platform}] {card.first_line[:60]}")
        event.add("dtstart", card.at)
        event.add("dtend", card.at + timedelta(minutes=15))
        event.add("dtstamp", card.at)
        event.add("description", f"{card.handle} · {card.display_status}")
        cal.add_component(event)
    return cal.to_ical()
