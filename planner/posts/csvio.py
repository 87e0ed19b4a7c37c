"""CSV import (all or nothing) and export of a workspace's calendar, and its iCalendar feed.

Import columns (header row required; order free; names case-insensitive):
  local_time   YYYY-MM-DD HH:MM in the workspace's zone (empty = unscheduled draft)
  accounts     account handles separated by ';' (e.g. "@juniper@coffee.social;juniper.bsky.social")
  text         the post text
  tags         optional quadrants separated by ';' or ',' (try, share, care, learn)
  link         optional http(s) link
  dm_keyword, dm_product_url, dm_prefill, dm_call_to_action   optional DM prompt
  fold         optional 0/1 for a wall time that happens twice (clocks going back)
  submit       optional yes/no: submit the imported post for review
The file is UTF-8 (a BOM is fine) or UTF-16 with a BOM. Export writes one row per post with
all its accounts, the same columns (``fold`` filled where the wall time happens twice) plus
status, platform and post_id, which import ignores, so an exported file imports again as the
same posts at the same instants.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event
from sqlmodel import Session, col, select

from planner.csvcells import SafeWriter, restore
from planner.errors import FieldProblem, Invalid, PlannerError
from planner.models import Account, Post, Publication, PublicationStatus, Workspace
from planner.posts import calendar, schedule, workflow
from planner.posts import service as posts

REQUIRED = ("local_time", "accounts", "text")
OPTIONAL = ("tags", "link", "dm_keyword", "dm_product_url", "dm_prefill", "dm_call_to_action",
            "fold", "submit")
EXPORT_ONLY = ("status", "platform", "post_id")  # written by export, ignored by import
EXPORT_COLUMNS = ("local_time", "accounts", "text", "tags", "link", "dm_keyword",
                  "dm_product_url", "dm_prefill", "dm_call_to_action", "fold", *EXPORT_ONLY)
MAX_ROWS = 10_000
_CHUNK = 500  # ids per IN (...) list, well under every database's parameter limit


@dataclass(frozen=True)
class ImportResult:
    created: int
    submitted: int


def decode(raw: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM) or UTF-16 with a BOM, else a clear refusal.

    Excel's plain "CSV" is Windows-1252 and breaks names like "Zażółć"; guessing an encoding
    would import mangled text silently, so the file is refused with what to do instead.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass  # a BOM but not UTF-16 after all: report it as not UTF-8 below
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise Invalid.at("file", f"The file is not UTF-8 text: line {line} has the byte "
                         f"0x{raw[exc.start]:02X}, which UTF-8 does not allow (the file was "
                         "probably saved as Windows-1252 or Latin-1). Save it as \"CSV UTF-8\" "
                         "(Excel) or with UTF-8 encoding (LibreOffice, Google Sheets) and import "
                         "it again; nothing was imported.") from None


def _rows(raw: bytes | str) -> list[dict[str, str]]:
    text = decode(raw) if isinstance(raw, bytes) else raw.removeprefix("\ufeff")
    if "\x00" in text:  # no database stores it in text; a binary file or a wrong encoding
        line = text[:text.index("\x00")].count("\n") + 1
        raise Invalid.at("file", f"Line {line} cannot be read as CSV (it has a NUL byte). Is "
                         "this a CSV file saved as UTF-8?")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = reader.fieldnames
        if not fieldnames:
            raise Invalid.at("file", "The file is empty; the first row must name the columns.")
        names = [n.strip().lower() for n in fieldnames]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise Invalid.at("file", f"Missing column(s): {', '.join(missing)}. Required: "
                             f"{', '.join(REQUIRED)}.")
        unknown = [n for n in names if n not in REQUIRED + OPTIONAL + EXPORT_ONLY]
        if unknown:
            raise Invalid.at("file", f"Unknown column(s): {', '.join(unknown)}.")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise Invalid.at("file", f"Column(s) named twice: {', '.join(repeated)}.")
        reader.fieldnames = names
        rows = []
        for row in reader:
            rows.append({k: restore((v or "").strip()) for k, v in row.items()
                         if k and isinstance(v, str | None)})
            if len(rows) > MAX_ROWS:
                raise Invalid.at("file", f"At most {MAX_ROWS} rows per import; split the file.")
    except csv.Error as exc:
        raise Invalid.at("file", f"Line {reader.line_num} cannot be read as CSV ({exc}). "
                         "Is this a CSV file?") from None
    if not rows:
        raise Invalid.at("file", "The file has a header but no posts.")
    return rows


def import_csv(*, session: Session, actor: posts.Actor, raw: bytes | str, now: datetime,
               progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Check every row, then create every post; any problem refuses the whole file.

    One pass reports everything: the format of each cell, account names, times that do not
    exist or happen twice, links; rows that pass are created to catch what only the post
    services know (limits on submit ...). Problems carry ``("line", n, column)`` paths; line
    numbers count the header as line 1 (a quoted multi-line text counts as one line).
    The caller's transaction makes it all-or-nothing: on Invalid, roll back.
    """
    rows = _rows(raw)
    handles = {a.handle.lower(): a for a in session.exec(
        select(Account).where(Account.workspace_id == actor.workspace_id)).all()}
    zone = actor.workspace.timezone
    problems: list[FieldProblem] = []
    # The whole file in one savepoint: refused, it leaves nothing behind even in a caller
    # that goes on to commit.
    whole_file = session.begin_nested()
    try:
        created, submitted = _create_rows(session, actor, rows, handles, zone, now, problems,
                                          progress)
    except BaseException:
        whole_file.rollback()
        raise
    if problems:
        whole_file.rollback()
        raise Invalid(f"Nothing was imported: {len(problems)} problem(s) in the file.",
                      problems=problems)
    whole_file.commit()
    return ImportResult(created=created, submitted=submitted)


def _create_rows(session: Session, actor: posts.Actor, rows: list[dict[str, str]],
                 handles: dict[str, Account], zone: str, now: datetime,
                 problems: list[FieldProblem],
                 progress: Callable[[int, int], None] | None) -> tuple[int, int]:
    created = submitted = 0
    for done, row in enumerate(rows, start=1):
        line = done + 1
        data, row_problems = _row_input(row, handles, line, zone)
        problems.extend(row_problems)
        if not row_problems:
            submit = row.get("submit", "").lower() in ("yes", "y", "true", "1")
            try:
                # A savepoint per row keeps a failed row from poisoning the transaction, so
                # every row's problems are collected before the whole file is refused.
                with session.begin_nested():
                    post = posts.create_post(session=session, actor=actor, data=data, now=now)
                    if submit:
                        workflow.submit_for_review(session=session, actor=actor,
                                                   post_id=post.id or 0,
                                                   expected_version=post.version, now=now)
                        submitted += 1
                created += 1
            except PlannerError as exc:
                problems.extend(_at_line(line, exc))
        if progress:
            progress(done, len(rows))
    return created, submitted


def _row_input(row: dict[str, str], handles: dict[str, Account], line: int, zone: str
               ) -> tuple[posts.PostInput, list[FieldProblem]]:
    problems: list[FieldProblem] = []

    def problem(column: str, message: str) -> None:
        problems.append(FieldProblem(("line", line, column), message))

    account_ids = []
    names = [h.strip() for h in row.get("accounts", "").split(";") if h.strip()]
    if not names:
        problem("accounts", "Name at least one account.")
    for name in names:
        account = handles.get(name.lower())
        if account is None:
            problem("accounts", f"No account {name!r} in this workspace.")
        else:
            account_ids.append(account.id or 0)
    if not row.get("text"):
        problem("text", "The text is empty.")
    try:
        posts.parse_tags([row.get("tags", "").replace(";", ",")])
    except Invalid as exc:
        problem("tags", exc.message)
    fold_raw = row.get("fold", "")
    fold = int(fold_raw) if fold_raw in ("0", "1") else None
    if fold_raw not in ("", "0", "1"):
        problem("fold", "fold must be 0 or 1.")
    if row.get("local_time"):
        try:
            # Gaps and overlaps too, so a file with other problems still reports them now.
            schedule.to_utc(schedule.parse_local(row["local_time"]), zone,
                            fold=fold if fold is not None else (0 if fold_raw else None))
        except Invalid as exc:
            message = exc.message
            if isinstance(exc, schedule.AmbiguousLocalTime):
                message += " Put 0 (first) or 1 (second) in the fold column."
            problem("local_time", message)
    for column in ("link", "dm_product_url"):
        value = row.get(column, "")
        if value and not value.lower().startswith(("http://", "https://")):
            problem(column, "Links must start with http:// or https://.")
    if row.get("dm_keyword") and not row.get("dm_product_url"):
        problem("dm_product_url", "A DM prompt needs the product link it leads to.")
    if row.get("dm_call_to_action") and not row.get("dm_keyword"):
        problem("dm_keyword", "A call to action needs the DM keyword it asks for.")
    data = posts.PostInput(
        text=row.get("text", ""), account_ids=account_ids, link=row.get("link", ""),
        tags=[t for t in row.get("tags", "").replace(";", ",").split(",") if t.strip()],
        dm_keyword=row.get("dm_keyword", ""), dm_product_url=row.get("dm_product_url", ""),
        dm_prefill=row.get("dm_prefill", ""),
        dm_call_to_action=row.get("dm_call_to_action", ""),
        scheduled_local=row.get("local_time", ""), fold=fold)
    return data, problems


def _at_line(line: int, exc: PlannerError) -> list[FieldProblem]:
    if not exc.problems:
        return [FieldProblem(("line", line), exc.message)]
    column = {"scheduled_local": "local_time", "account_ids": "accounts",
              "variants": "text"}
    return [FieldProblem(("line", line, column.get(p.field.split(".")[0], p.field)), p.message)
            for p in exc.problems]


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield list(ids[i:i + _CHUNK])


def export_csv(*, session: Session, workspace: Workspace, start: date, days: int,
               filters: calendar.Filters = calendar.Filters()) -> str:
    """One row per post of the range (as filtered), with all its live accounts.

    The columns are the import format, so the file imports again as the same posts: the
    local time with ``fold`` where that wall time happens twice, every account, the tags
    and the DM prompt. Per-account text variants are not part of the format.
    """
    cards, _ = calendar.list_view(session=session, workspace_id=workspace.id or 0,
                                  zone=workspace.timezone, start=start, days=days,
                                  filters=filters, limit=1_000_000)
    post_ids = list(dict.fromkeys(c.post_id for c in cards))  # in time order
    full: dict[int, Post] = {}
    targets: dict[int, list[tuple[str, str, str]]] = {}
    for chunk in _chunks(post_ids):
        full.update((p.id or 0, p) for p in session.exec(
            select(Post).where(col(Post.id).in_(chunk))).all())
        rows = session.exec(
            select(Publication.post_id, Account.handle, Account.platform, Publication.status)
            .join(Account, col(Account.id) == col(Publication.account_id))
            .where(col(Publication.post_id).in_(chunk),
                   col(Publication.status) != PublicationStatus.cancelled)
            .order_by(col(Publication.post_id), col(Publication.account_id))).all()
        for post_id, handle, platform, status in rows:
            targets.setdefault(post_id, []).append((handle, platform, str(status)))
    out = io.StringIO()
    writer = SafeWriter(out)  # post text is untrusted in a spreadsheet
    writer.writerow(EXPORT_COLUMNS)
    for post_id in post_ids:
        post = full[post_id]
        accounts = targets.get(post_id, [])
        local_time = fold = ""
        if post.scheduled_at is not None:
            local_time = schedule.to_local(post.scheduled_at, workspace.timezone).strftime(
                "%Y-%m-%d %H:%M")
            which = schedule.fold_of(post.scheduled_at, workspace.timezone)
            fold = "" if which is None else str(which)
        writer.writerow([
            local_time, ";".join(h for h, _, _ in accounts), post.text,
            post.tags.replace(",", ";"), post.link, post.dm_keyword, post.dm_product_url,
            post.dm_prefill, post.dm_call_to_action, fold,
            _export_status(post, [s for _, _, s in accounts]),
            ";".join(p for _, p, _ in accounts), post_id])
    return out.getvalue()


def _export_status(post: Post, publication_states: list[str]) -> str:
    """The workflow state until approval; then each account's publishing state."""
    if post.status != "approved" or not publication_states:
        return str(post.status)
    shown = ["scheduled" if s == PublicationStatus.pending else s for s in publication_states]
    return shown[0] if len(set(shown)) == 1 else ";".join(shown)


def ical_feed(*, session: Session, workspace: Workspace, today: date, days_back: int = 31,
              days_ahead: int = 92) -> bytes:
    """An iCalendar feed of publications around today (for Google/Outlook subscriptions)."""
    cards, _ = calendar.list_view(session=session, workspace_id=workspace.id or 0,
                                  zone=workspace.timezone, start=today - timedelta(days_back),
                                  days=days_back + days_ahead, limit=5000)
    cal = Calendar()
    cal.add("prodid", "-//Poise//Content calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{' '.join(workspace.name.split())} (Poise)")  # one line
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
