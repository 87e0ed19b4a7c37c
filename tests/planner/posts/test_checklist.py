"""The first-run checklist: ticked by real state, linked to where each thing is done, hidden
per person, gone once the required items are done."""

from __future__ import annotations

from sqlmodel import select
from webhelpers import PASSWORD, page_csrf

from planner import accounts
from planner.db import session_scope
from planner.models import Account, Post, Role, User, Workspace
from planner.posts import checklist, schedule
from planner.team import users, workspaces


def _fresh(engine) -> str:
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Fresh Start", timezone="Europe/Lisbon")
        u = users.create_user(session=s, email="owner@fresh.test", password=PASSWORD)
        users.add_member(session=s, workspace=ws, user=u, role=Role.admin)
        return ws.slug


def _state(slug: str) -> dict[str, bool]:
    with session_scope() as s:
        ws = s.exec(select(Workspace).where(Workspace.slug == slug)).one()
        owner = users.normalise_email("owner@fresh.test")
        uid = s.exec(select(User).where(User.email == owner)).one().id
        return {i.key: i.done for i in checklist.checklist(session=s, workspace=ws,
                                                            user_id=uid).items}


def test_items_tick_from_real_state(engine):
    slug = _fresh(engine)
    assert _state(slug) == {"account": False, "slots": False, "member": False, "post": False,
                            "dm": False}
    with session_scope() as s:
        ws = s.exec(select(Workspace).where(Workspace.slug == slug)).one()
        account = accounts.create_account(session=s, workspace_id=ws.id, platform="mastodon",
                                          handle="@fresh@x.social", credentials={"a": "b"})
    assert _state(slug)["account"] and not _state(slug)["slots"]
    with session_scope() as s:
        schedule.add_slot(session=s, account=s.get(Account, account.id), weekday=0, at="09:00",
                          actor_id=None)
        ws = s.get(Workspace, account.workspace_id)
        lead = users.create_user(session=s, email="lead@fresh.test", password=PASSWORD)
        users.add_member(session=s, workspace=ws, user=lead, role=Role.brand_lead)
        s.add(Post(workspace_id=ws.id, text="hello", dm_keyword="GLOW"))
    assert _state(slug) == dict.fromkeys(("account", "slots", "member", "post", "dm"), True)


def test_calendar_shows_links_hides_per_person_and_when_done(engine, make_client):
    slug = _fresh(engine)
    c = make_client("owner@fresh.test")
    page = c.get(f"/w/{slug}/calendar").text
    assert 'id="checklist"' in page and "0 of 4 done" in page
    for href in ("/accounts", "/slots", "/settings#members", "/posts/new"):
        assert f'href="/w/{slug}{href}"' in page
    # Hiding needs the CSRF token, and is per person.
    assert c.post(f"/w/{slug}/checklist/dismiss").status_code == 403
    r = c.post(f"/w/{slug}/checklist/dismiss", data={
        "csrf_token": page_csrf(c, f"/w/{slug}/calendar")}, follow_redirects=False)
    assert r.status_code == 303
    assert 'id="checklist"' not in c.get(f"/w/{slug}/calendar").text
    with session_scope() as s:
        ws = s.exec(select(Workspace).where(Workspace.slug == slug)).one()
        other = users.create_user(session=s, email="second@fresh.test", password=PASSWORD)
        users.add_member(session=s, workspace=ws, user=other, role=Role.manager)
    second = make_client("second@fresh.test")
    page = second.get(f"/w/{slug}/calendar").text
    assert 'id="checklist"' in page and "1 of 4 done" in page  # the second member counts


def test_done_workspace_and_viewers_see_no_checklist(world, engine, make_client):
    with session_scope() as s:
        schedule.add_slot(session=s, account=s.get(Account, world.account_id), weekday=0,
                          at="09:00", actor_id=None)
        s.add(Post(workspace_id=world.workspace_id, text="hello"))
    assert 'id="checklist"' not in make_client("admin@acme.test").get(
        f"/w/{world.slug}/calendar").text
    fresh = _fresh(engine)
    with session_scope() as s:
        ws = s.exec(select(Workspace).where(Workspace.slug == fresh)).one()
        viewer = s.exec(select(User).where(User.email == "viewer@acme.test")).one()
        users.add_member(session=s, workspace=ws, user=viewer, role=Role.viewer)
    assert 'id="checklist"' not in make_client("viewer@acme.test").get(
        f"/w/{fresh}/calendar").text


def test_the_seeded_demo_workspace_shows_no_checklist(engine):
    from planner.demo import seed_demo

    with session_scope(engine) as s:
        summary = seed_demo(session=s)
        workspace = summary.workspace
        admin = s.exec(select(User).where(User.email == summary.logins[0][0])).one()
        result = checklist.checklist(session=s, workspace=workspace, user_id=admin.id)
    assert result.required_done and not result.shown
    assert all(item.done for item in result.items if not item.optional)


def test_a_dm_prompt_template_ticks_the_optional_item(engine):
    from planner.models import PromptTemplate

    slug = _fresh(engine)
    with session_scope() as s:
        ws = s.exec(select(Workspace).where(Workspace.slug == slug)).one()
        s.add(PromptTemplate(workspace_id=ws.id, name="Glow", keyword="GLOW",
                             product_url="https://shop.example/glow"))
    state = _state(slug)
    assert state["dm"] and not state["post"]
