"""Poise command line: serve, worker, migrate, demo, createuser and more (``--help`` on each)."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from sandbox import FakePlatform

app = typer.Typer(help="Poise: value-balanced content planning and social publishing.",
                  no_args_is_help=True, add_completion=False)
console = Console()


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _migrate_or_exit(url: str) -> None:
    from sqlalchemy.exc import OperationalError

    from planner.migrate import upgrade

    try:
        upgrade(url)
    except OperationalError as exc:
        console.print(f"[red]Cannot reach the database[/red] at {_safe_url(url)}: "
                      f"{exc.orig}\nCheck POISE_DATABASE_URL and that the server is running.")
        raise typer.Exit(2) from None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def migrate() -> None:
    """Apply database migrations (creates the SQLite file under var/ if needed)."""
    from planner.settings import get_settings

    url = get_settings().effective_database_url
    _migrate_or_exit(url)
    console.print(f"Database at {_safe_url(url)} is up to date.")


@app.command()
def demo() -> None:
    """Seed the demo workspace (idempotent) and print the demo logins."""
    from planner.settings import get_settings

    _migrate_or_exit(get_settings().effective_database_url)
    _seed_and_print()


def _seed_and_print() -> None:
    from planner.db import session_scope
    from planner.demo import demo_platform_accounts, seed_demo
    from planner.settings import get_settings

    bases, credentials = demo_platform_accounts(get_settings().demo_platform_port)
    with session_scope() as session:
        summary = seed_demo(session=session, account_api_bases=bases,
                            account_credentials=credentials)
    verb = "Created" if summary.created else "Using"
    console.print(f"{verb} demo workspace [bold]{summary.workspace.name}[/bold] "
                  f"({summary.workspace.timezone}).")
    table = Table(title="Demo logins")
    for column in ("e-mail", "password", "role"):
        table.add_column(column)
    for row in summary.logins:
        table.add_row(*row)
    console.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (POISE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (POISE_PORT).")] = None,
    worker: Annotated[bool | None, typer.Option(
        "--worker/--no-worker",
        help="Run the publishing worker in this process (default on; POISE_WORKER_ENABLED). "
             "Use --no-worker for web processes beside separate `worker` processes.")] = None,
    demo_data: Annotated[bool, typer.Option(
        "--demo", help="Seed the demo workspace on first start.")] = False,
) -> None:
    """Serve the web app (and, unless --no-worker, the publishing worker)."""
    import uvicorn

    from planner.settings import get_settings
    from planner.web.app import create_app

    _setup_logging()
    # The address given here is the one served: tracked links, feed and image URLs follow
    # it unless POISE_PUBLIC_BASE_URL says otherwise (the worker in this process too).
    if host:
        os.environ["POISE_HOST"] = host
    if port:
        os.environ["POISE_PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    _migrate_or_exit(settings.effective_database_url)
    fake = None
    if demo_data:
        from publishers import netguard

        # The demo accounts publish to the loopback sandbox: allowed here, never by default.
        netguard.allow("127.0.0.1")
        _seed_and_print()
        fake = _start_demo_platforms(settings.demo_platform_port)
    # The suggester's embedding model and Bayes tables take a second or two to build: start
    # now, in the background, so the first composer suggestion does not wait for them.
    from planner.balance import warm_up

    warm_up()
    run_worker = settings.worker_enabled if worker is None else worker
    handle = None
    if run_worker:
        from planner.publishing import start_worker

        handle = start_worker(settings)
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"Poise is running at [bold]http://{bind_host}:{bind_port}[/bold] "
                  f"(worker {'on' if run_worker else 'off'}). Press Ctrl-C to stop.")
    try:
        uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_level="warning")
    finally:
        if handle is not None:
            handle.stop(wait=True)
        if fake is not None:
            fake.stop()
        console.print("Stopped.")


def _start_demo_platforms(port: int) -> FakePlatform | None:
    """The loopback fakes the demo accounts publish to, so the demo publishes for real."""
    from sandbox import FakePlatform

    fake = FakePlatform(port=port)
    try:
        fake.start()
    except OSError as exc:
        console.print(f"[yellow]Demo platforms not started on port {port} ({exc.strerror}); "
                      "demo posts will wait for them (POISE_DEMO_PLATFORM_PORT).[/yellow]")
        return None
    from planner.db import session_scope
    from planner.demo import demo_sandbox_posts

    # The seeded history never went through the sandbox's APIs; it shows them (marked as
    # seeded) so their "view the live post" links open a page instead of a 404.
    with session_scope() as session:
        fake.show(demo_sandbox_posts(session))
    console.print(f"Demo accounts publish to the fake platforms at {fake.base_url}.")
    return fake


@app.command(name="worker")
def worker_command() -> None:
    """Run only the publishing worker (any number of these can share one PostgreSQL)."""
    from planner.publishing import run_worker_forever
    from planner.settings import get_settings

    _setup_logging()
    settings = get_settings()
    _migrate_or_exit(settings.effective_database_url)
    run_worker_forever(settings)


@app.command()
def createuser(
    email: Annotated[str, typer.Argument(help="Login e-mail.")],
    workspace: Annotated[str, typer.Option(help="Workspace name or slug; created if missing.")],
    role: Annotated[str, typer.Option(help="admin, brand_lead, manager or viewer.")] = "admin",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[str | None, typer.Option(
        help="Password; prompted (hidden) when omitted.")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="Time zone for a new workspace (default POISE_DEFAULT_TIMEZONE).")] = None,
) -> None:
    """Create a user (or update their role) in a workspace."""
    from sqlmodel import or_, select

    from planner.db import session_scope
    from planner.errors import PlannerError
    from planner.models import Role, User, Workspace
    from planner.settings import get_settings
    from planner.team import users, workspaces

    try:
        role_value = Role(role)
    except ValueError:
        console.print(f"[red]Unknown role {role!r}[/red]; use admin, brand_lead, manager "
                      "or viewer.")
        raise typer.Exit(2) from None
    settings = get_settings()
    _migrate_or_exit(settings.effective_database_url)
    try:
        with session_scope() as session:
            ws = session.exec(select(Workspace).where(
                or_(Workspace.slug == workspace, Workspace.name == workspace))).first()
            if ws is None:
                ws = workspaces.create_workspace(session=session, name=workspace,
                                                 timezone=timezone or settings.default_timezone)
            user = session.exec(select(User).where(
                User.email == users.normalise_email(email))).first()
            changed_password = False
            if user is None:
                secret = password or typer.prompt("Password", hide_input=True,
                                                  confirmation_prompt=True)
                user = users.create_user(session=session, email=email, password=secret,
                                         name=name)
            elif password is not None:
                # An existing user's new password; every login of theirs ends.
                users.set_password(session=session, user=user, password=password,
                                   actor_id=None)
                changed_password = True
            users.add_member(session=session, workspace=ws, user=user, role=role_value)
            slug = ws.slug
    except PlannerError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    console.print(f"{email} is {role_value.value} in workspace '{slug}'.")
    if changed_password:
        console.print("Password changed; every login of this user has ended.")


@app.command()
def deactivate(
    email: Annotated[str, typer.Argument(help="The user's login e-mail.")],
    reactivate: Annotated[bool, typer.Option(
        "--reactivate", help="Let the user log in again.")] = False,
) -> None:
    """Deactivate a user: every login ends and their API tokens stop working."""
    from sqlmodel import select

    from planner.db import session_scope
    from planner.models import User
    from planner.settings import get_settings
    from planner.team import users

    _migrate_or_exit(get_settings().effective_database_url)
    with session_scope() as session:
        user = session.exec(select(User).where(
            User.email == users.normalise_email(email))).first()
        if user is None:
            console.print(f"[red]No user {email}.[/red]")
            raise typer.Exit(2)
        users.set_active(session=session, user=user, active=reactivate, actor_id=None)
    console.print(f"{email} is {'active' if reactivate else 'deactivated'}.")


@app.command(name="remove-member")
def remove_member(
    email: Annotated[str, typer.Argument(help="The member's login e-mail.")],
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
) -> None:
    """Take a person out of a workspace (the last admin stays)."""
    from sqlmodel import select

    from planner.db import session_scope
    from planner.errors import PlannerError
    from planner.models import User, Workspace
    from planner.settings import get_settings
    from planner.team import users

    _migrate_or_exit(get_settings().effective_database_url)
    try:
        with session_scope() as session:
            ws = session.exec(select(Workspace).where(Workspace.slug == workspace)).first()
            user = session.exec(select(User).where(
                User.email == users.normalise_email(email))).first()
            if ws is None or user is None:
                console.print(f"[red]No workspace {workspace!r} or no user {email}.[/red]")
                raise typer.Exit(2)
            users.remove_member(session=session, workspace=ws, user_id=user.id or 0,
                                actor_id=None)
    except PlannerError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    console.print(f"{email} is no longer a member of '{workspace}'.")


@app.command()
def balance(
    workspace: Annotated[str, typer.Argument(help="Workspace slug.")],
    window: Annotated[int | None, typer.Option(help="Last N posts (default: workspace's).")] = None,
    published_only: Annotated[bool, typer.Option(
        "--published-only", help="Count published posts only (not scheduled ones).")] = False,
) -> None:
    """Print each account's value balance as a table."""
    from sqlmodel import select

    from planner import accounts
    from planner import balance as balance_service
    from planner.db import session_scope
    from planner.models import Workspace
    from planner.settings import get_settings

    _migrate_or_exit(get_settings().effective_database_url)
    with session_scope() as session:
        ws = session.exec(select(Workspace).where(Workspace.slug == workspace)).first()
        if ws is None:
            console.print(f"[red]No workspace {workspace!r}.[/red]")
            raise typer.Exit(2)
        cards = balance_service.workspace_balances(
            session=session, workspace=ws,
            accounts=accounts.list_accounts(session=session, workspace_id=ws.id or 0),
            window=window, include_scheduled=not published_only)
        for card in cards:
            table = Table(title=f"{card.account.handle} ({card.account.platform})")
            for column in ("value", "posts", "share", "x fair share", "verdict"):
                table.add_column(column)
            for q in card.report.quadrants:
                table.add_row(q.quadrant.label, f"{q.count:g}", f"{q.share:.0%}",
                              f"{q.times_fair_share:.1f}", str(q.verdict))
            console.print(table)
            for line in card.report.headlines:
                console.print(f"  {line}")
            if card.next_step:
                console.print(f"  What next: {card.next_step.reason}")


@app.command(name="rotate-key")
def rotate_key(
    old_key: Annotated[list[str], typer.Option(
        "--old-key", help="A previous POISE_CREDENTIALS_KEY (repeat for several).")],
) -> None:
    """Re-encrypt every account's credentials under the current POISE_CREDENTIALS_KEY.

    Rotate by: set POISE_CREDENTIALS_KEY to a new key (and POISE_CREDENTIALS_OLD_KEYS to the
    old one so running processes keep reading), run this, then drop the old key.
    """
    from planner.accounts import connections
    from planner.db import session_scope
    from planner.settings import get_settings

    settings = get_settings()
    _migrate_or_exit(settings.effective_database_url)
    with session_scope() as session:
        count = connections.rotate_credentials_key(
            session=session, new_key=settings.effective_credentials_key(), old_keys=old_key)
    console.print(f"Re-encrypted the credentials of {count} account(s) under the current key.")


@app.command(name="import")
def import_command(
    file: Annotated[typer.FileBinaryRead, typer.Argument(help="CSV file (see the README).")],
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    user: Annotated[str, typer.Option(help="E-mail of the member the posts are authored by.")],
) -> None:
    """Import a calendar from CSV: every row or none, every problem listed.

    Exit code 0 when imported, 1 when the file was refused (every problem is printed), 2 when
    the workspace, the member or the database is not there.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlmodel import select

    from planner.db import session_scope, utcnow
    from planner.errors import PlannerError
    from planner.models import User, Workspace
    from planner.posts import csvio
    from planner.settings import get_settings
    from planner.team import users

    _migrate_or_exit(get_settings().effective_database_url)
    raw = file.read()
    with session_scope() as session:
        ws = session.exec(select(Workspace).where(Workspace.slug == workspace)).first()
        author = session.exec(select(User).where(
            User.email == users.normalise_email(user))).first()
        role = users.role_in(session=session, user_id=author.id or 0,
                             workspace_id=ws.id or 0) if ws and author else None
        ids = (ws.id or 0, author.id or 0) if ws and author else (0, 0)
    if role is None:
        console.print(f"[red]No workspace {workspace!r} with member {user!r}.[/red]")
        raise typer.Exit(2)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console) as progress:
            task = progress.add_task("Checking rows", total=None)
            # Checked with no lock, then written in short transactions (csvio.import_file).
            result = csvio.import_file(
                workspace_id=ids[0], user_id=ids[1], raw=raw, now=utcnow(),
                progress=lambda phase, done, total: progress.update(
                    task, completed=done, total=total,
                    description="Checking rows" if phase == "checking" else "Writing posts"))
    except PlannerError as exc:
        console.print(f"[red]{exc.message}[/red]")
        for problem in exc.problems:
            console.print(f"  {_where(problem.loc)}: {problem.message}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"Imported {result.created} posts ({result.submitted} submitted for review).")


def _where(loc: tuple[str | int, ...]) -> str:
    """("line", 4, "local_time") -> "line 4, column local_time"; ("file",) -> "file"."""
    if len(loc) >= 2 and loc[0] == "line":
        return f"line {loc[1]}" + (f", column {loc[2]}" if len(loc) > 2 else "")
    return ".".join(str(part) for part in loc) or "file"


@app.command(name="export")
def export_command(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    start: Annotated[str | None, typer.Option(
        help="First local day, YYYY-MM-DD (default: the first of this month).")] = None,
    days: Annotated[int, typer.Option(help="How many days from START.", min=1, max=3660)] = 31,
    output: Annotated[typer.FileTextWrite | None, typer.Option(
        "--output", "-o", help="Write to this file instead of standard output.")] = None,
) -> None:
    """Export a calendar range as CSV in the import format (one row per post)."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from sqlmodel import select

    from planner.db import session_scope, utcnow
    from planner.models import Workspace
    from planner.posts import csvio
    from planner.settings import get_settings

    _migrate_or_exit(get_settings().effective_database_url)
    with session_scope() as session:
        ws = session.exec(select(Workspace).where(Workspace.slug == workspace)).first()
        if ws is None:
            console.print(f"[red]No workspace {workspace!r}.[/red]")
            raise typer.Exit(2)
        try:
            first = date.fromisoformat(start) if start else utcnow().astimezone(
                ZoneInfo(ws.timezone)).date().replace(day=1)
        except ValueError:
            console.print(f"[red]{start!r} is not a date; use YYYY-MM-DD.[/red]")
            raise typer.Exit(2) from None
        body = csvio.export_csv(session=session, workspace=ws, start=first, days=days)
    if output is not None:
        output.write(body)
        console.print(f"Wrote the calendar from {first} ({days} days) to {output.name}.",
                      highlight=False)
    else:
        sys.stdout.write(body)


if __name__ == "__main__":
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
