"""CSV import (all or nothing, in short batches) and export of a calendar; its iCal feed.

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
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from planner.csvcells import SafeWriter, restore
from planner.db import get_engine, session_scope, utcnow
from planner.errors import Conflict, FieldProblem, Invalid, PlannerError
from planner.models import (
    Account,
    ImportJob,
    Post,
    Publication,
    PublicationStatus,
    Review,
    Role,
    Workspace,
)
from planner.posts import calendar, notify, schedule, workflow
from planner.posts import service as posts
from planner.posts.service import _refuse_oversized_text, content_problems, refuse_past
from planner.team import users

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
    import_id: int = 0


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


# One write transaction takes at most BATCH_ROWS rows and stops early once it has held
# SQLite's write lock for BATCH_SECONDS (a row takes ~3 ms on a quiet machine, ten times that
# on a loaded one; bench/import_bench.py measures it), so the worker and every request get
# their turn between batches. The import as a whole stays all or nothing (``import_file``).
BATCH_ROWS = 200
BATCH_SECONDS = 0.25
# A pause after each batch: SQLite's busy handler polls a waiting writer's lock at most every
# 100 ms, and without a gap the import would win every race for the lock it just released.
BATCH_PAUSE_S = 0.1
# A running import that gave no sign of life for this long died with its process; the next
# import of the workspace removes what it wrote.
STALE_AFTER = timedelta(minutes=5)
MAX_KEPT_PROBLEMS = 500  # problems stored on a failed import (the count is always exact)

# phase ("checking" or "writing"), rows done, rows in the file
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class _Planned:
    line: int
    data: posts.PostInput
    submit: bool


def check_file(*, session: Session, actor: posts.Actor, raw: bytes | str, now: datetime,
               progress: Progress | None = None) -> list[_Planned]:
    """Every row checked, nothing written (so no write lock): the cells' format, account
    names, times that do not exist, happen twice or have passed, links, DM prompts, text
    lengths, and, for rows to submit, what review would refuse (each account's text rules).

    Raises Invalid with every problem at ``("line", n, column)`` (the header is line 1; a
    quoted multi-line text counts as one line), or at ``("file",)``.
    """
    rows = _rows(raw)
    accounts = session.exec(select(Account).where(
        Account.workspace_id == actor.workspace_id)).all()
    handles = {a.handle.lower(): a for a in accounts}
    by_id = {a.id or 0: a for a in accounts}
    zone = actor.workspace.timezone
    problems: list[FieldProblem] = []
    planned: list[_Planned] = []
    for done, row in enumerate(rows, start=1):
        line = done + 1
        data, row_problems = _row_input(row, handles, line, zone)
        submit = row.get("submit", "").lower() in ("yes", "y", "true", "1")
        if not row_problems:
            row_problems = _service_problems(data, by_id, line, actor, now, submit)
        problems.extend(row_problems)
        planned.append(_Planned(line, data, submit))
        if progress and (done % BATCH_ROWS == 0 or done == len(rows)):
            progress("checking", done, len(rows))
    if problems:
        raise Invalid(f"Nothing was imported: {len(problems)} problem(s) in the file.",
                      problems=problems)
    return planned


def _service_problems(data: posts.PostInput, accounts: dict[int, Account], line: int,
                      actor: posts.Actor, now: datetime, submit: bool) -> list[FieldProblem]:
    """What ``create_post`` and ``submit_for_review`` would refuse, found without writing."""
    try:
        _refuse_oversized_text(data)
        scheduled_at = None
        if data.scheduled_local:
            scheduled_at = schedule.to_utc(schedule.parse_local(data.scheduled_local),
                                           actor.workspace.timezone, fold=data.fold)
            refuse_past(scheduled_at, zone=actor.workspace.timezone, now=now)
        if len(" ".join(data.dm_call_to_action.split())) > 200:
            raise Invalid.at("dm_call_to_action", "Keep the call to action under 200 "
                             "characters.")
    except PlannerError as exc:
        return _at_line(line, exc)
    if not submit:
        return []
    post = Post(workspace_id=actor.workspace_id, text=data.text.replace("\r\n", "\n").strip(),
                link=data.link.strip(), dm_keyword=data.dm_keyword.strip(),
                dm_product_url=data.dm_product_url.strip(), dm_prefill=data.dm_prefill.strip(),
                dm_call_to_action=" ".join(data.dm_call_to_action.split()),
                scheduled_at=scheduled_at)
    publications = [Publication(post_id=0, account_id=a, workspace_id=actor.workspace_id)
                    for a in dict.fromkeys(data.account_ids)]
    found = content_problems(post=post, publications=publications, accounts=accounts)
    return _at_line(line, Invalid("not ready", problems=found)) if found else []


def import_file(*, workspace_id: int, user_id: int, raw: bytes | str, now: datetime,
                engine: Engine | None = None, import_id: int | None = None,
                planned: list[_Planned] | None = None,
                progress: Progress | None = None) -> ImportResult:
    """Import a CSV calendar: all rows or none, and never a long write lock.

    1. Check every row with reads only (``check_file``); any problem refuses the file and
       nothing is written.
    2. Write the posts in batches (``BATCH_ROWS``, ``BATCH_SECONDS``), one short transaction
       each, every post marked with the import's id (``post.import_id``). Between batches
       other writers (the worker, redirects, requests) get the lock.
    3. One short transaction finishes the import: the marks are cleared and the leads are
       told once about the posts submitted for review.
    If a batch fails (something changed since the check), every post the import wrote is
    removed, again in short transactions, and the import is ``failed`` with the reason at
    the row and column. While it runs, the rows written so far are seen by no one (a marked
    post is left out of the calendar, lists, review, balance, exports, the API and the
    worker's claims: ``models.post_shown``), so the import appears whole in step 3 or not
    at all; a process that dies mid-import leaves them marked, and the next import of the
    workspace removes them (``sweep_stale_imports``, ``remove_leftovers``).

    ``import_id``: an ``ImportJob`` made by the caller (the web page polls it for progress);
    else one is made here. ``planned``: the caller already ran ``check_file`` (the web form
    does, to answer at once). The caller must hold no write transaction open.
    """
    engine = engine or get_engine()
    if import_id is None:
        with session_scope(engine, immediate=True) as session:
            sweep_stale_imports(session=session, workspace_id=workspace_id, now=now)
            job = ImportJob(workspace_id=workspace_id, user_id=user_id, created_at=now,
                            heartbeat_at=now)
            session.add(job)
            session.flush()
            import_id = job.id or 0

    def report(phase: str, done: int, total: int) -> None:
        if progress:
            progress(phase, done, total)

    remove_leftovers(engine=engine, workspace_id=workspace_id)
    try:
        if planned is None:
            with session_scope(engine) as session:  # reads only: no write lock
                actor = _actor(session, workspace_id, user_id)

                def checked(phase: str, done: int, total: int) -> None:
                    report(phase, done, total)
                    if done == total or done % (BATCH_ROWS * 20) == 0:
                        _touch(engine, import_id or 0, status="checking", done=done,
                               total=total)

                planned = check_file(session=session, actor=actor, raw=raw, now=now,
                                     progress=checked)
        _touch(engine, import_id, status="writing", done=0, total=len(planned))
        created = submitted = position = 0
        while position < len(planned):
            with session_scope(engine, immediate=True) as session:
                actor = _actor(session, workspace_id, user_id)
                made, sent = _write_batch(session, actor, planned, position, import_id, now)
                created, submitted, position = created + made, submitted + sent, position + made
                running = session.get(ImportJob, import_id)
                if running is None or running.status != "writing":
                    raise Invalid.at("file", "The import was stopped; nothing was imported.")
                running.done, running.heartbeat_at = position, utcnow()
            report("writing", position, len(planned))
            if position < len(planned):
                time.sleep(BATCH_PAUSE_S)
        with session_scope(engine, immediate=True) as session:
            actor = _actor(session, workspace_id, user_id)
            session.execute(update(Post).where(col(Post.import_id) == import_id)
                            .values(import_id=None))
            finished = session.get(ImportJob, import_id)
            if finished is not None:
                finished.status, finished.created = "done", created
                finished.submitted = submitted
                finished.finished_at = finished.heartbeat_at = utcnow()
            notify.after_import(session=session, actor=actor, submitted=submitted,
                                import_id=import_id, now=now)
        return ImportResult(created=created, submitted=submitted, import_id=import_id)
    except BaseException as exc:
        error = exc if isinstance(exc, PlannerError) else PlannerError(
            "The import stopped on an unexpected error; nothing was imported.")
        _fail(engine, import_id, error)
        raise


def _actor(session: Session, workspace_id: int, user_id: int) -> posts.Actor:
    workspace = session.get(Workspace, workspace_id)
    role = users.role_in(session=session, user_id=user_id, workspace_id=workspace_id)
    if workspace is None or not users.has_role(role, Role.manager):
        raise Invalid.at("file", "You are no longer a manager in this workspace; nothing was "
                         "imported.")
    assert role is not None
    return posts.Actor(user_id=user_id, role=role, workspace=workspace)


def _write_batch(session: Session, actor: posts.Actor, planned: Sequence[_Planned],
                 start: int, import_id: int, now: datetime) -> tuple[int, int]:
    """Create posts from ``planned[start:]`` (and submit those asked) until BATCH_ROWS or
    BATCH_SECONDS; how many were created and submitted. Invalid with every problem met."""
    created = submitted = 0
    problems: list[FieldProblem] = []
    until = time.monotonic() + BATCH_SECONDS
    for row in planned[start:start + BATCH_ROWS]:
        try:
            # A savepoint per row keeps a failed row from poisoning the batch, so the
            # batch's problems are all collected before the import is refused.
            with session.begin_nested():
                post = posts.create_post(session=session, actor=actor, data=row.data, now=now)
                if row.submit:
                    workflow.submit_for_review(session=session, actor=actor,
                                               post_id=post.id or 0,
                                               expected_version=post.version, now=now,
                                               notify_leads=False)
                    submitted += 1
                # Marked last: a marked post is hidden from every service (submitting
                # included), and no one sees this batch before it commits, marked.
                post.import_id = import_id
            created += 1
        except PlannerError as exc:
            problems.extend(_at_line(row.line, exc))
        if time.monotonic() > until:
            break
    if problems:
        raise Invalid(f"Nothing was imported: {len(problems)} problem(s) in the file.",
                      problems=problems)
    session.flush()
    return created, submitted


def _touch(engine: Engine, import_id: int, **values: Any) -> None:
    with session_scope(engine, immediate=True) as session:
        job = session.get(ImportJob, import_id)
        if job is not None and job.status in ("checking", "writing"):
            for name, value in values.items():
                setattr(job, name, value)
            job.heartbeat_at = utcnow()


def _fail(engine: Engine, import_id: int, error: PlannerError) -> None:
    """Remove what the import wrote (short transactions) and keep why it failed."""
    with session_scope(engine, immediate=True) as session:
        job = session.get(ImportJob, import_id)
        if job is not None:
            job.status, job.message = "failed", error.message[:1000]
            job.problems_json = json.dumps(
                [{"loc": list(p.loc), "message": p.message}
                 for p in error.problems[:MAX_KEPT_PROBLEMS]])
            job.finished_at = job.heartbeat_at = utcnow()
    while True:
        with session_scope(engine, immediate=True) as session:
            if not remove_batch(session=session, import_id=import_id):
                return


def remove_batch(*, session: Session, import_id: int, limit: int = BATCH_ROWS) -> int:
    """Delete up to ``limit`` posts an import wrote, with their publications and reviews."""
    ids = list(session.exec(select(Post.id).where(col(Post.import_id) == import_id)
                            .limit(limit)).all())
    if ids:
        session.execute(delete(Review).where(col(Review.post_id).in_(ids)))
        session.execute(delete(Publication).where(col(Publication.post_id).in_(ids)))
        session.execute(delete(Post).where(col(Post.id).in_(ids)))
    return len(ids)


def sweep_stale_imports(*, session: Session, workspace_id: int, now: datetime) -> None:
    """Refuse a second import while one is running (two would compete for the lock's gaps);
    an import with no sign of life for ``STALE_AFTER`` died with its process and is marked
    failed here (its posts are removed by ``remove_leftovers``, in short transactions)."""
    running = session.exec(select(ImportJob).where(
        ImportJob.workspace_id == workspace_id,
        col(ImportJob.status).in_(("checking", "writing")))).all()
    for job in running:
        if job.heartbeat_at > now - STALE_AFTER:
            raise Conflict("An import into this workspace is running; wait for it to finish.")
        job.status, job.finished_at = "failed", now
        job.message = "The import was interrupted (the server stopped); nothing was imported."
    session.flush()


def remove_leftovers(*, engine: Engine, workspace_id: int) -> int:
    """Remove the posts of the workspace's failed imports that are still there (their
    process died midway), ``BATCH_ROWS`` per transaction; how many. Bounded: an import
    writes at most ``MAX_ROWS`` posts, and each round removes some or stops."""
    removed = 0
    with session_scope(engine) as session:
        failed = list(session.exec(select(ImportJob.id).where(
            ImportJob.workspace_id == workspace_id, ImportJob.status == "failed",
            col(ImportJob.id).in_(select(Post.import_id).where(
                col(Post.import_id).is_not(None)).distinct()))))
    for import_id in failed:
        while True:
            with session_scope(engine, immediate=True) as session:
                count = remove_batch(session=session, import_id=import_id or 0)
            removed += count
            if not count:
                break
    return removed


def problems_of(job: ImportJob) -> list[FieldProblem]:
    """A failed import's problems, as stored."""
    try:
        stored = json.loads(job.problems_json or "[]")
    except ValueError:
        return []
    return [FieldProblem(tuple(p["loc"]), str(p["message"])) for p in stored
            if isinstance(p, dict) and isinstance(p.get("loc"), list)]


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
