"""The compass in the product: API, Balance page, settings, review, composer, suggestions."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from webhelpers import page_csrf

from compass.suggest import Suggestion, available
from planner import accounts, balance, posts
from planner.balance import suggestions
from planner.db import session_scope, utcnow
from planner.models import (
    Account,
    AuditEvent,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Role,
    User,
    Workspace,
)
from planner.team import users

BASE = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)  # 11:00 in Warsaw, the workspace's zone
FUTURE = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
WORKED = {  # counts Try/Share/Care/Learn over 20 posts -> expected (status, headline part)
    (10, 4, 3, 3): ("overweight", "Try new things is overweight"),
    (6, 5, 5, 4): ("balanced", "spread evenly over all four values"),
    (8, 6, 6, 0): ("missing", "Learn new things is missing"),
}
# 20 posts, oldest first: even early on, then a run of Try (8 of 20: not overweight, at 9).
TRY_RUN = ["share", "care", "learn", "try"] * 3 + ["share", "care"] + ["try"] * 5 + ["learn"]


def publish_history(engine, world, counts, account_id=None, try_oldest=True):
    """Published posts on the account with the given quadrant counts, interleaved.

    ``try_oldest=False`` puts a non-Try post oldest, so a what-if (which pushes the oldest out
    of a full window) adds a Try post without removing one.
    """
    tags = []
    for quadrant, n in zip(("try", "share", "care", "learn"), counts, strict=True):
        tags += [quadrant] * n
    tags = tags[::2] + tags[1::2]  # spread, so "missing" depends on counts, not order
    if not try_oldest:
        tags.reverse()
    return publish_tags(engine, world, tags, account_id=account_id)


def publish_tags(engine, world, tags, *, account_id=None, start=BASE,
                 status=PublicationStatus.published, step=timedelta(days=1)):
    """One post per tag ("" = untagged), oldest first, ``step`` apart; returns the post ids."""
    account_id = account_id or world.account_id
    ids = []
    with session_scope(engine) as s:
        for i, tag in enumerate(tags):
            at = start + i * step
            post = Post(workspace_id=world.workspace_id, text=f"post {i} {tag}", tags=tag,
                        status=PostStatus.approved, scheduled_at=at)
            s.add(post)
            s.flush()
            s.add(Publication(post_id=post.id, account_id=account_id,
                              workspace_id=world.workspace_id, scheduled_at=at, status=status,
                              published_at=at if status == PublicationStatus.published
                              else None))
            ids.append(post.id)
    return ids


def token(email):
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="t").secret


def bearer(email="viewer@acme.test"):
    return {"Authorization": f"Bearer {token(email)}"}


def second_account(engine, world):
    with session_scope(engine) as s:
        return accounts.create_account(session=s, workspace_id=world.workspace_id,
                                       platform="bluesky", handle="acme.bsky.social").id


def get_balance(client, world, headers, account_id=None, **params):
    r = client.get(f"/api/v1/accounts/{account_id or world.account_id}/balance", params=params,
                   headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


# --- the worked examples -----------------------------------------------------------------------

@pytest.mark.parametrize("counts", list(WORKED))
def test_worked_examples_through_the_api(world, engine, client, counts):
    publish_history(engine, world, counts)
    body = get_balance(client, world, bearer())
    status, headline = WORKED[counts]
    assert status in body["statuses"]
    assert any(headline in h for h in body["headlines"]), body["headlines"]
    assert body["n"] == 20 and body["published_count"] == 20
    if counts == (10, 4, 3, 3):
        q = next(q for q in body["quadrants"] if q["quadrant"] == "try")
        assert q["share"] == 0.5 and q["times_fair_share"] == 2.0


def test_worked_examples_on_the_balance_page(world, engine, make_client):
    publish_history(engine, world, (10, 4, 3, 3))
    page = make_client("viewer@acme.test").get(f"/w/{world.slug}/balance")
    assert page.status_code == 200
    assert "Try new things is overweight" in page.text and "<svg" in page.text
    assert 'data-status="overweight"' in page.text
    assert "What next:" in page.text
    assert "Settings for" not in page.text  # viewers do not get the settings forms


def test_not_enough_posts(world, engine, client):
    publish_history(engine, world, (2, 1, 1, 1))
    assert get_balance(client, world, bearer())["status"] == "not_enough_posts"


# --- the window counts tagged posts only -------------------------------------------------------

def test_untagged_posts_take_no_place_in_the_window(world, engine, client):
    publish_tags(engine, world, ["try", "share", "care", "learn"] * 5)
    publish_tags(engine, world, [""] * 5, start=BASE + timedelta(days=30))  # newest
    body = get_balance(client, world, bearer())
    assert body["n"] == 20 and body["headline"].startswith("Well rounded")
    assert len(body["untagged_keys"]) == 5  # listed, not counted
    body = get_balance(client, world, bearer(), window=10)
    assert body["n"] == 10 and len(body["untagged_keys"]) == 5


def test_untagged_posts_older_than_the_window_are_not_listed(world, engine):
    publish_tags(engine, world, ["", ""] + ["try", "share", "care", "learn"] * 3)
    with session_scope(engine) as s:
        config = balance.config_for(s.get(Workspace, world.workspace_id), window=8)
        items = balance.items_for_account(session=s, account_id=world.account_id,
                                          config=config)
    assert len(items) == 8 and all(i.tags for i in items)


# --- API parameters ----------------------------------------------------------------------------

class TestApiParameters:
    def test_window(self, world, engine, client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 8)
        body = get_balance(client, world, bearer(), window=12)
        assert body["n"] == 12 and body["settings"]["window"] == 12
        assert get_balance(client, world, bearer())["n"] == 20  # the workspace default

    def test_date_range_replaces_the_window(self, world, engine, client):
        ids = publish_tags(engine, world, ["try", "share", "care", "learn"] * 5)
        body = get_balance(client, world, bearer(), **{
            "from": (BASE + timedelta(days=5)).isoformat(),
            "to": (BASE + timedelta(days=10)).isoformat()})
        assert body["n"] == 5  # days 5..9: "from" inclusive, "to" exclusive
        assert body["settings"]["window"] is None
        assert body["date_from"].startswith("2026-10-06")
        with session_scope(engine) as s:
            pubs = {p.post_id: str(p.id) for p in s.exec(select(Publication)).all()}
        assert body["keys"] == [pubs[i] for i in ids[5:10]]

    def test_date_range_with_a_window_takes_the_newest_in_range(self, world, engine, client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 5)
        body = get_balance(client, world, bearer(), window=3,
                           **{"from": BASE.isoformat(),
                              "to": (BASE + timedelta(days=10)).isoformat()})
        assert body["n"] == 3 and body["settings"]["window"] == 3

    def test_as_of(self, world, engine, client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 5)
        body = get_balance(client, world, bearer(), as_of=(BASE + timedelta(days=9)).isoformat())
        assert body["n"] == 10 and body["settings"]["as_of"].startswith("2026-10-10")

    def test_include_scheduled(self, world, engine, client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 3)
        publish_tags(engine, world, ["try", "try"], start=FUTURE,
                     status=PublicationStatus.pending)
        with_scheduled = get_balance(client, world, bearer())
        assert with_scheduled["n"] == 14 and with_scheduled["scheduled_count"] == 2
        published = get_balance(client, world, bearer(), include_scheduled="false")
        assert published["n"] == 12 and published["scheduled_count"] == 0
        assert published["settings"]["include_scheduled"] is False

    def test_what_if_and_isolation(self, world, engine, client):
        publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
        headers = bearer()
        assert "overweight" not in get_balance(client, world, headers)["statuses"]
        body = get_balance(client, world, headers, what_if="try")
        assert "overweight" in body["statuses"] and body["keys"][-1] == "what-if"
        r = client.get(f"/api/v1/accounts/{world.account_id}/balance?what_if=fun",
                       headers=headers)
        assert r.status_code == 422
        r = client.get(f"/api/v1/accounts/{world.other_account_id}/balance", headers=headers)
        assert r.status_code == 404

    def test_what_if_at_places_the_post(self, world, engine, client):
        publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
        early = get_balance(client, world, bearer(), what_if="try",
                            what_if_at=(BASE - timedelta(days=1)).isoformat())
        assert "what-if" not in early["keys"]  # older than the window: it does not count
        assert "overweight" not in early["statuses"]

    def test_times_need_a_zone(self, world, client):
        r = client.get(f"/api/v1/accounts/{world.account_id}/balance",
                       params={"as_of": "2026-10-01T00:00:00"}, headers=bearer())
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"
        r = client.get(f"/api/v1/accounts/{world.account_id}/balance",
                       params={"from": "2026-10-05T00:00:00Z", "to": "2026-10-01T00:00:00Z"},
                       headers=bearer())
        assert r.status_code == 422


class TestRecencyWeighting:
    def test_trending_through_the_api_parameters(self, world, engine, client):
        publish_tags(engine, world, TRY_RUN)
        plain = get_balance(client, world, bearer())
        try_plain = next(q for q in plain["quadrants"] if q["quadrant"] == "try")
        assert try_plain["count"] == 8 and not try_plain["trending"]
        assert plain["effective_n"] is None
        for params in ({"half_life_posts": 5}, {"half_life_days": 5}):  # one post a day
            body = get_balance(client, world, bearer(), **params)
            q = next(q for q in body["quadrants"] if q["quadrant"] == "try")
            assert q["trending"] and not q["overweight"] and q["weighted_share"] > 0.5
            assert body["headline"].startswith("Try new things is trending toward overweight")
            assert 8 <= body["effective_n"] < 20
            assert body["settings"][next(iter(params))] == 5

    def test_half_lives_from_the_settings(self, world, engine, client, make_client):
        publish_tags(engine, world, TRY_RUN)
        lead = make_client("lead@acme.test")
        r = lead.post(f"/w/{world.slug}/balance/settings", data={
            **WORKSPACE_FORM, "half_life_days": "5",
            "csrf_token": page_csrf(lead, f"/w/{world.slug}/balance")})
        assert r.status_code == 200, r.text
        body = get_balance(client, world, bearer())
        assert body["settings"]["half_life_days"] == 5
        assert body["settings"]["half_life_posts"] is None
        assert any(q["trending"] for q in body["quadrants"])
        r = client.put(f"/api/v1/accounts/{world.account_id}/balance-settings",
                       json={"half_life_posts": 4}, headers=bearer("lead@acme.test"))
        assert r.status_code == 200, r.text
        settings = get_balance(client, world, bearer())["settings"]
        assert settings["half_life_posts"] == 4 and settings["half_life_days"] == 5


# --- balance settings --------------------------------------------------------------------------

WORKSPACE_FORM = {"target_try": "25", "target_share": "25", "target_care": "25",
                  "target_learn": "25", "window": "20", "min_sample": "8", "alpha": "0.05",
                  "missing_after": "12"}


def test_workspace_settings_form(world, make_client):
    lead = make_client("lead@acme.test")
    csrf = page_csrf(lead, f"/w/{world.slug}/balance")
    data = {**WORKSPACE_FORM, "csrf_token": csrf, "target_try": "40", "target_share": "20",
            "target_care": "20", "target_learn": "30"}
    r = lead.post(f"/w/{world.slug}/balance/settings", data=data)
    assert r.status_code == 422 and "must add up to 100%" in r.text
    assert re.search(r'id="ws-target_try"[^>]*aria-invalid="true"', r.text)
    data["target_learn"] = "20"
    r = lead.post(f"/w/{world.slug}/balance/settings", data=data)
    assert r.status_code == 200 and "Saved." in r.text
    with session_scope() as s:
        assert s.get(Workspace, world.workspace_id).target_try == 40
    manager = make_client("manager@acme.test")
    r = manager.post(f"/w/{world.slug}/balance/settings",
                     data={**data, "csrf_token": page_csrf(manager, f"/w/{world.slug}/balance")})
    assert r.status_code == 403


class TestAccountSettings:
    def test_account_setting_beats_the_workspace_setting(self, world, engine, client,
                                                         make_client):
        other = second_account(engine, world)
        for account_id in (world.account_id, other):
            publish_tags(engine, world, ["try", "share", "care", "learn"] * 10,
                         account_id=account_id)
        lead = make_client("lead@acme.test")
        r = lead.post(f"/w/{world.slug}/balance/settings", data={
            **WORKSPACE_FORM, "window": "30", "alpha": "0.01",
            "csrf_token": page_csrf(lead, f"/w/{world.slug}/balance")})
        assert r.status_code == 200
        r = client.put(f"/api/v1/accounts/{world.account_id}/balance-settings",
                       json={"window": 10, "alpha": 0.1}, headers=bearer("lead@acme.test"))
        assert r.status_code == 200, r.text
        assert r.json()["own"]["window"] == 10 and r.json()["own"]["min_sample"] is None
        assert r.json()["effective"]["window"] == 10
        assert r.json()["effective"]["min_sample"] == 8  # from the workspace
        own = get_balance(client, world, bearer())
        assert own["n"] == 10 and own["settings"]["window"] == 10
        assert own["settings"]["alpha"] == 0.1
        follows = get_balance(client, world, bearer(), account_id=other)
        assert follows["n"] == 30 and follows["settings"]["alpha"] == 0.01
        page = make_client("viewer@acme.test").get(f"/w/{world.slug}/balance")
        assert "Counted 10 posts" in page.text and "this account's setting" in page.text
        assert "Counted 30 posts" in page.text and "workspace setting" in page.text

    def test_form_saves_and_shows_errors_at_the_field(self, world, engine, make_client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 10)
        lead = make_client("lead@acme.test")
        csrf = page_csrf(lead, f"/w/{world.slug}/balance")
        url = f"/w/{world.slug}/balance/accounts/{world.account_id}/settings"
        r = lead.post(url, data={"csrf_token": csrf, "window": "3", "target_try": "50"},
                      headers={"HX-Request": "true"})
        assert r.status_code == 422
        prefix = f"acct-{world.account_id}"
        assert re.search(rf'id="{prefix}-window"[^>]*aria-invalid="true"', r.text)
        assert f'id="{prefix}-window-error">Enter a whole number between 4 and 500.' in r.text
        assert f'id="{prefix}-target_share-error">Give all four target shares' in r.text
        assert r.text.lstrip().startswith("<article")  # the card, to swap in place
        with session_scope() as s:
            assert s.get(Account, world.account_id).balance_overrides == ""
        r = lead.post(url, data={"csrf_token": csrf, "window": "12", "min_sample": "",
                                 "target_try": "40", "target_share": "20", "target_care": "20",
                                 "target_learn": "20", "scheduled_filter": "1"},
                      headers={"HX-Request": "true"})
        assert r.status_code == 200 and "Saved." in r.text and "Counted 12 posts" in r.text
        with session_scope() as s:
            assert balance.account_overrides(s.get(Account, world.account_id)) == {
                "window": 12, "target": {"try": 0.4, "share": 0.2, "care": 0.2, "learn": 0.2}}
            event = s.exec(select(AuditEvent).where(
                AuditEvent.action == "account.balance_settings")).one()
            assert event.entity_id == world.account_id and event.actor_id is not None
        r = lead.post(url, data={"csrf_token": csrf})  # every field blank: follow the workspace
        assert r.status_code == 200
        with session_scope() as s:
            assert s.get(Account, world.account_id).balance_overrides == ""

    def test_form_is_guarded(self, world, make_client):
        url = f"/w/{world.slug}/balance/accounts/{world.account_id}/settings"
        manager = make_client("manager@acme.test")
        csrf = page_csrf(manager, f"/w/{world.slug}/balance")
        assert manager.post(url, data={"csrf_token": csrf, "window": "10"}).status_code == 403
        lead = make_client("lead@acme.test")
        assert lead.post(url, data={"window": "10"}).status_code == 403  # no CSRF token
        csrf = page_csrf(lead, f"/w/{world.slug}/balance")
        r = lead.post(f"/w/{world.slug}/balance/accounts/{world.other_account_id}/settings",
                      data={"csrf_token": csrf, "window": "10"})
        assert r.status_code == 404

    def test_api_checks_roles_and_values(self, world, client):
        url = f"/api/v1/accounts/{world.account_id}/balance-settings"
        assert client.put(url, json={"window": 10}).status_code == 401
        assert client.put(url, json={"window": 10}, headers=bearer()).status_code == 403
        lead = bearer("lead@acme.test")
        r = client.put(f"/api/v1/accounts/{world.other_account_id}/balance-settings",
                       json={"window": 10}, headers=lead)
        assert r.status_code == 404
        r = client.put(url, json={"window": 2, "target_percent": {"try": 50}}, headers=lead)
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert fields == {"window", "target_share"}
        r = client.put(url, json={"window": 10, "min_sample": 12}, headers=lead)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "min_sample"
        r = client.put(url, json={"target_percent": {"try": 40, "share": 20, "care": 20,
                                                     "learn": 20}}, headers=lead)
        assert r.status_code == 200
        assert r.json()["own"]["target_percent"] == {"try": 40, "share": 20, "care": 20,
                                                     "learn": 20}
        r = client.get(url, headers=bearer())  # viewers may read them
        assert r.status_code == 200 and r.json()["effective"]["target_percent"]["try"] == 40
        r = client.put(url, json={}, headers=lead)  # an empty body drops every own setting
        assert r.json()["own"]["target_percent"] is None
        assert r.json()["effective"]["target_percent"]["try"] == 25


# --- the Balance page's filters ----------------------------------------------------------------

def _selected_window(html):
    select_html = re.search(r'<select name="window">(.*?)</select>', html, re.S).group(1)
    return re.search(r'<option value="(\d*)" selected>([^<]*)<', select_html).groups()


class TestBalancePageFilters:
    def test_window_filter(self, world, engine, make_client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 8)
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/w/{world.slug}/balance", params={"window": "10"})
        assert "Counted 10 posts" in page.text and "chosen above" in page.text
        assert _selected_window(page.text) == ("10", "last 10 posts")
        page = viewer.get(f"/w/{world.slug}/balance", params={"window": "0"})
        assert page.status_code == 422

    def test_window_dropdown_shows_a_window_outside_its_presets(self, world, engine,
                                                                make_client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 10)
        with session_scope(engine) as s:
            s.get(Workspace, world.workspace_id).balance_window = 25
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/w/{world.slug}/balance")
        assert _selected_window(page.text) == ("", "as set: last 25")
        assert "Counted 25 posts" in page.text
        page = viewer.get(f"/w/{world.slug}/balance?window=37", headers={"HX-Request": "true"})
        assert _selected_window(page.text) == ("37", "last 37 posts")
        assert "Counted 37 posts" in page.text and "<html" not in page.text

    def test_scheduled_filter(self, world, engine, make_client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 3)
        publish_tags(engine, world, ["learn"] * 2, start=FUTURE,
                     status=PublicationStatus.pending)
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/w/{world.slug}/balance")
        assert "Counted 14 posts (12 published, 2 scheduled" in page.text
        page = viewer.get(f"/w/{world.slug}/balance", params={"scheduled": "0"})
        assert "Counted 12 posts (12 published, 0 scheduled" in page.text
        assert '<option value="0" selected>published only' in page.text

    def test_date_range_filter(self, world, engine, make_client):
        publish_tags(engine, world, ["try", "share", "care", "learn"] * 5)
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/w/{world.slug}/balance",
                          params={"from": "2026-10-06", "to": "2026-10-10"})
        assert page.status_code == 200
        assert "Counted 5 posts" in page.text  # local days 6 to 10, both included
        assert "every post from 2026-10-06 to 2026-10-10" in page.text
        assert _selected_window(page.text) == ("", "every post in the dates")
        assert 'name="from" value="2026-10-06"' in page.text
        assert "12 weeks to 10 Oct 2026" in page.text  # the trend ends with the range
        page = viewer.get(f"/w/{world.slug}/balance",
                          params={"from": "2026-10-06", "to": "2026-10-10", "window": "3"})
        assert "Counted 3 posts" in page.text
        bad = viewer.get(f"/w/{world.slug}/balance", params={"from": "6 Oct"})
        assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
        bad = viewer.get(f"/w/{world.slug}/balance", params={"from": "2026-10-10",
                                                             "to": "2026-10-06"})
        assert bad.status_code == 422

    def test_trend_honours_the_scheduled_filter(self, world, engine, make_client):
        soon = utcnow().replace(microsecond=0) + timedelta(days=2)
        publish_tags(engine, world, ["try", "care", "learn"], start=soon,
                     status=PublicationStatus.pending)
        with session_scope(engine) as s:
            weeks_all = balance.weekly_trend(session=s, account_id=world.account_id,
                                             end=soon + timedelta(days=3))
            weeks_published = balance.weekly_trend(session=s, account_id=world.account_id,
                                                   end=soon + timedelta(days=3),
                                                   include_scheduled=False)
        assert sum(sum(w.values()) for _, w in weeks_all) == 3
        assert sum(sum(w.values()) for _, w in weeks_published) == 0
        viewer = make_client("viewer@acme.test")

        def empty_weeks(params):
            html = viewer.get(f"/w/{world.slug}/balance", params=params).text
            trend = re.search(r'<figure class="trend">(.*?)</figure>', html, re.S).group(1)
            label = re.search(r"<desc>(.*?)</desc>", trend).group(1)
            skipped = re.search(r"(\d+) week\(s\) without posts not drawn", label)
            return int(skipped.group(1)) if skipped else 0

        assert empty_weeks({"scheduled": "1"}) == 11
        assert empty_weeks({"scheduled": "0"}) == 12


# --- approving: impact per account, confirmation -----------------------------------------------

def in_review(engine, world, tag="try", account_ids=None, text="Try our new roast!"):
    when = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT10:00")
    with session_scope(engine) as s:
        ws = s.get(Workspace, world.workspace_id)
        manager = posts.Actor(user_id=world.admin_id, role=Role.manager, workspace=ws)
        post = posts.create_post(session=s, actor=manager, now=utcnow(),
                                 data=posts.PostInput(text=text,
                                                      account_ids=account_ids
                                                      or [world.account_id],
                                                      tags=[tag] if tag else [],
                                                      tag_source="suggested",
                                                      scheduled_local=when))
        posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                expected_version=1, now=utcnow())
        return post.id


class TestReviewPage:
    def test_every_waiting_post_shows_its_impact_per_account(self, world, engine, make_client):
        other = second_account(engine, world)
        publish_tags(engine, world, ["share", "care", "learn"] * 4 + ["try"] * 7 + ["learn"])
        in_review(engine, world, "try", account_ids=[world.account_id, other])
        in_review(engine, world, "", text="Photo of the day")
        page = make_client("lead@acme.test").get(f"/w/{world.slug}/review")
        assert "Try new things 7 -&gt; 8 of last 20 on @acme@bikes.social" in page.text
        assert "Try new things 0 of 0 -&gt; 1 of 1 on acme.bsky.social" in page.text
        assert "Not tagged, so it does not count on @acme@bikes.social" in page.text
        assert "Approve anyway" not in page.text and "alert-warn" not in page.text

    def test_tipping_post_needs_confirmation_with_the_reason(self, world, engine, make_client):
        publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
        post_id = in_review(engine, world)
        lead = make_client("lead@acme.test")
        review = lead.get(f"/w/{world.slug}/review")
        assert "Try new things overweight" in review.text and "Approve anyway" in review.text
        assert "Try new things 8 -&gt; 9 of last 20 on @acme@bikes.social" in review.text
        assert "hx-confirm=" in review.text
        csrf = page_csrf(lead, f"/w/{world.slug}/review")
        r = lead.post(f"/w/{world.slug}/posts/{post_id}/approve",
                      data={"version": 2, "csrf_token": csrf})
        assert r.status_code == 409 and "Confirm to approve anyway" in r.text
        r = lead.post(f"/w/{world.slug}/posts/{post_id}/approve",
                      data={"version": 2, "csrf_token": csrf, "confirm": "1"},
                      follow_redirects=False)
        assert r.status_code == 303
        with session_scope() as s:
            post = s.get(Post, post_id)
            assert post.status == PostStatus.approved and post.tag_source == "confirmed"

    def test_balanced_post_approves_without_question(self, world, engine, make_client):
        publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
        post_id = in_review(engine, world, tag="learn")
        lead = make_client("lead@acme.test")
        r = lead.post(f"/w/{world.slug}/posts/{post_id}/approve",
                      data={"version": 2, "csrf_token": page_csrf(lead, f"/w/{world.slug}/review")},
                      follow_redirects=False)
        assert r.status_code == 303


# --- the composer's live what-if ---------------------------------------------------------------

def compose(client, world, **fields):
    csrf = page_csrf(client, f"/w/{world.slug}/posts/new")
    data = {"text": "Be the first to try our brand-new limited edition roast!",
            "account_ids": [str(world.account_id)], **fields}
    r = client.post(f"/w/{world.slug}/compose/compass", data=data,
                    headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 200, r.text
    return r.text


class TestComposerWhatIf:
    def test_hints_suggest_and_warn(self, world, engine, make_client):
        publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
        html = compose(make_client("manager@acme.test"), world)
        assert 'data-apply-tags="try"' in html and "Why:" in html
        assert "overweight" in html and "8 -&gt; 9 of last 20" in html

    def test_editing_does_not_count_the_post_twice(self, world, engine, make_client):
        publish_tags(engine, world, ["share", "care", "learn"] * 4 + ["try"] * 7)
        [own] = publish_tags(engine, world, ["try"], start=FUTURE,
                             status=PublicationStatus.pending)  # approved, counted
        manager = make_client("manager@acme.test")
        edited = compose(manager, world, tags="try", post_id=str(own))
        assert "overweight" not in edited
        assert "Try new things 7 of 19 -&gt; 8 of 20" in edited
        new = compose(manager, world, tags="try")  # a second Try post really would tip it
        assert "Try new things overweight (9 of last 20)" in new

    def test_the_chosen_time_places_the_post(self, world, engine, make_client):
        # 20 scheduled posts from March 2027, the oldest a Share post, 8 Try (not overweight).
        publish_tags(engine, world, ["share", "care", "learn"] * 4 + ["try"] * 8, start=FUTURE,
                     status=PublicationStatus.pending)
        manager = make_client("manager@acme.test")
        before_all = compose(manager, world, tags="try", when="time",
                             scheduled_local="2027-02-01T10:00")
        assert "overweight" not in before_all  # it would be the oldest: outside the last 20
        assert "Try new things 8 -&gt; 8 of last 20" in before_all
        queued = compose(manager, world, tags="try", when="queue",
                         scheduled_local="2027-02-01T10:00")
        assert "Try new things overweight (9 of last 20)" in queued
        after_all = compose(manager, world, tags="try", when="time",
                            scheduled_local="2027-06-01T10:00")
        assert "Try new things overweight (9 of last 20)" in after_all


# --- suggestions -------------------------------------------------------------------------------

def test_suggest_api(world, client):
    r = client.post("/api/v1/compass/suggest", headers=bearer(),
                    json={"text": "How to descale your espresso machine: a step-by-step guide",
                          "workspace_id": world.workspace_id})
    assert r.status_code == 200 and r.json()["tags"] == ["learn"] and r.json()["why"]
    r = client.post("/api/v1/compass/suggest", headers=bearer(),
                    json={"text": "x", "workspace_id": world.other_workspace_id})
    assert r.status_code == 404


def add_examples(engine, workspace_id, pairs, tag_source="confirmed"):
    with session_scope(engine) as s:
        for text, tags in pairs:
            s.add(Post(workspace_id=workspace_id, text=text, tags=tags, tag_source=tag_source,
                       status=PostStatus.approved))


@pytest.fixture
def auto_suggester(monkeypatch):
    from planner.settings import get_settings

    monkeypatch.setenv("POISE_SUGGESTER", "auto")
    get_settings.cache_clear()
    suggestions.clear_suggesters()
    yield
    suggestions.clear_suggesters()


class TestSuggesterCache:
    @pytest.fixture
    def built(self, monkeypatch, auto_suggester):
        """Stand in for the embedding suggester: record which examples each build got."""
        builds = []

        class Recorded:
            def __init__(self, examples):
                self.examples = [text for text, _ in examples]
                self.suggested: list[str] = []

            def suggest(self, text):
                self.suggested.append(text)

        def fake_default(examples=(), *, reuse=None):
            builds.append(Recorded(examples))
            return builds[-1]

        monkeypatch.setattr(suggestions, "default_suggester", fake_default)
        return builds

    def test_keeps_learning_past_the_example_limit(self, world, engine, built):
        add_examples(engine, world.workspace_id,
                     [(f"example {i}", "learn") for i in range(suggestions.EXAMPLES_PER_WORKSPACE)])
        with session_scope(engine) as s:
            first = suggestions.suggester_for(session=s, workspace_id=world.workspace_id)
            assert suggestions.suggester_for(session=s, workspace_id=world.workspace_id) is first
        assert len(first.examples) == 300
        add_examples(engine, world.workspace_id, [("Fresh figs are in", "care")])
        with session_scope(engine) as s:
            second = suggestions.suggester_for(session=s, workspace_id=world.workspace_id)
        assert second is not first and len(second.examples) == 300
        assert "Fresh figs are in" in second.examples  # the newest examples teach it

    def test_rebuilds_when_an_example_is_retagged(self, world, engine, built):
        add_examples(engine, world.workspace_id, [("Tips for brewing", "learn")])
        with session_scope(engine) as s:
            first = suggestions.suggester_for(session=s, workspace_id=world.workspace_id)
            post = s.exec(select(Post)).one()
            post.tags, post.version = "care", post.version + 1
        with session_scope(engine) as s:
            again = suggestions.suggester_for(session=s, workspace_id=world.workspace_id)
            assert again is not first

    def test_cache_is_bounded(self, world, engine, built, monkeypatch):
        monkeypatch.setattr(suggestions, "CACHED_WORKSPACES", 2)
        with session_scope(engine) as s:
            for workspace_id in (world.workspace_id, world.other_workspace_id, 999):
                suggestions.suggester_for(session=s, workspace_id=workspace_id)
        assert list(suggestions._suggesters) == [world.other_workspace_id, 999]

    def test_warm_up_builds_the_recent_workspaces_suggesters(self, world, engine, built):
        # After a restart, a workspace's first suggestion should not wait for its examples to
        # be encoded: the warm-up builds (and so encodes) them in the background.
        add_examples(engine, world.workspace_id, [("Tips for brewing", "learn")])
        add_examples(engine, world.other_workspace_id, [("We donated meals", "care")])
        suggestions._warm(engine)
        # The most recently active workspace (the last example added) is kept longest.
        assert list(suggestions._suggesters) == [world.workspace_id, world.other_workspace_id]
        assert built[0].examples == []  # the shared model first, without examples
        for _, suggester in suggestions._suggesters.values():
            assert suggester.suggested == ["warm up"] and len(suggester.examples) == 1

    def test_long_texts_are_cut_before_the_model(self, world, engine, built, monkeypatch):
        # The composer form can carry up to the body limit (1 MiB); an example's opening is
        # what its vector compares.
        add_examples(engine, world.workspace_id, [("x" * 5000, "learn")])
        asked: list[str] = []
        with session_scope(engine) as s:
            suggester = suggestions.suggester_for(session=s, workspace_id=world.workspace_id)
            monkeypatch.setattr(suggester, "suggest", lambda text: asked.append(text) or
                                Suggestion((), {}, "", "test"), raising=False)
            suggestions.suggest(session=s, workspace_id=world.workspace_id, text="y" * 10**6)
        assert suggester.examples == ["x" * suggestions.EXAMPLE_CHARS]
        assert asked == ["y" * suggestions.TEXT_CHARS]

    def test_lexicon_mode_needs_no_cache(self, world, engine):
        with session_scope(engine) as s:
            suggester = suggestions.suggester_for(session=s, workspace_id=world.workspace_id)
        assert type(suggester).__name__ == "LexiconSuggester" and not suggestions._suggesters


@pytest.mark.ml
def test_a_confirmed_example_changes_the_suggestion(world, engine, auto_suggester):
    status = available()
    if not status:
        pytest.skip(f"ml extra not installed: {status.reason}")
    add_examples(engine, world.workspace_id, [
        (f"Reminder {i}: the quarterly payroll compliance webinar for accountants", "learn")
        for i in range(suggestions.EXAMPLES_PER_WORKSPACE)])
    text = "Fresh figs are in"
    with session_scope(engine) as s:
        before = suggestions.suggest(session=s, workspace_id=world.workspace_id, text=text)
    assert before.top is not None and before.top.value != "care"
    add_examples(engine, world.workspace_id, [(f"Fresh {fruit} are in", "care") for fruit in (
        "peaches", "plums", "cherries", "apricots", "pears", "apples", "grapes", "mangoes",
        "lemons", "limes")])
    with session_scope(engine) as s:
        after = suggestions.suggest(session=s, workspace_id=world.workspace_id, text=text)
    assert after.top is not None and after.top.value == "care", after
    assert "confirmed examples" in after.why


# --- OpenAPI -----------------------------------------------------------------------------------

def test_balance_response_is_documented(client):
    schema = client.get("/openapi.json").json()
    get = schema["paths"]["/api/v1/accounts/{account_id}/balance"]["get"]
    ok = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/BalanceOut"}
    out = schema["components"]["schemas"]["BalanceOut"]
    assert {"status", "headlines", "quadrants", "needs", "what_next", "settings"} <= set(
        out["properties"])
    assert out["properties"]["quadrants"]["items"] == {
        "$ref": "#/components/schemas/QuadrantBalanceOut"}
    params = {p["name"] for p in get["parameters"]}
    assert {"window", "from", "to", "as_of", "what_if", "what_if_at", "include_scheduled",
            "half_life_posts", "half_life_days"} <= params
    put = schema["paths"]["/api/v1/accounts/{account_id}/balance-settings"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BalanceSettingsIn"}
