"""The demo workspace: what `make run` shows a new user."""

from sqlmodel import func, select

from planner.db import session_scope
from planner.demo import DEMO_PASSWORD, demo_platform_accounts, seed_demo
from planner.models import Account, Membership, Post, Publication, PublicationStatus
from planner.team.users import authenticate


def test_seed_once_with_everything_a_new_user_needs(engine):
    bases, creds = demo_platform_accounts(8009)
    with session_scope(engine) as s:
        first = seed_demo(session=s, account_api_bases=bases, account_credentials=creds)
    with session_scope(engine) as s:
        again = seed_demo(session=s)
        assert first.created and not again.created
        platforms = {a.platform for a in s.exec(select(Account))}
        assert len(platforms) == 4
        assert all(a.api_base == "http://127.0.0.1:8009" for a in s.exec(select(Account)))
        roles = {m.role for m in s.exec(select(Membership))}
        assert {"admin", "brand_lead"} <= roles
        assert s.exec(select(func.count()).select_from(Post)).one() >= 20
        states = {p.status for p in s.exec(select(Publication))}
        assert PublicationStatus.published in states and PublicationStatus.pending in states
        for email, _, _ in first.logins:
            assert authenticate(session=s, email=email, password=DEMO_PASSWORD)


def test_demo_has_a_quarter_of_metrics_where_some_values_clearly_resonate(engine):
    from compass import Quadrant
    from planner.insight import report
    from planner.models import Workspace
    from planner.models_insight import MetricCollection

    with session_scope(engine) as s:
        summary = seed_demo(session=s)
    with session_scope(engine) as s:
        result = report(session=s, workspace=s.get(Workspace, summary.workspace.id))
        rows = {r.platform: r for r in result.accounts}
        assert rows["mastodon"].lifts[Quadrant.CARE].status == "higher"
        assert rows["linkedin"].lifts[Quadrant.LEARN].status == "higher"
        assert rows["x"].lifts[Quadrant.TRY].status == "lower"
        # Every published demo publication has its readings, so the worker never asks the
        # sandbox about the made-up remote ids.
        published = s.exec(select(func.count()).select_from(Publication).where(
            Publication.status == PublicationStatus.published)).one()
        covered = s.exec(select(func.count()).select_from(MetricCollection)).one()
        assert covered == published
        oldest = min(r.published_at for r in s.exec(select(MetricCollection)))
        assert (summary.workspace.created_at - oldest).days >= 85
