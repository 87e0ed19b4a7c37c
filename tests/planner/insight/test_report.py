"""The Insight page, its CSV, the API and the composer hint on seeded metric history in which
Care clearly resonates on Mastodon and nothing stands out on Bluesky."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlmodel import select
from webhelpers import page_csrf

from planner.db import session_scope
from planner.insight import history, service
from planner.models import Account, User, Workspace
from planner.team import users

END = datetime.now(UTC)


@pytest.fixture
def seeded(brand, engine):
    with session_scope(engine) as s:
        chosen = [s.get(Account, brand.accounts[p]) for p in ("mastodon", "bluesky")]
        history.seed_history(session=s, workspace_id=brand.workspace_id, accounts=chosen,
                             end=END, days=91, posts_per_day=1.2,
                             effects={("mastodon", "care"): 2.5}, readings=False, seed=11)
    return brand


def token_for(email):
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="test").secret


def test_report_finds_the_planted_value(seeded, engine):
    with session_scope(engine) as s:
        result = service.report(session=s, workspace=s.get(Workspace, seeded.workspace_id))
    rows = {r.platform: r for r in result.accounts}
    care = rows["mastodon"].lifts[service.Quadrant.CARE]
    assert care.status == "higher" and (care.ratio or 0) > 1.5
    assert rows["x"].posts == 0  # no history there


def test_api_gives_lifts_intervals_and_health(seeded, client):
    token = token_for("viewer@glow.test")
    resp = client.get(f"/api/v1/workspaces/{seeded.workspace_id}/insight",
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    body = resp.json()
    masto = next(a for a in body["accounts"] if a["platform"] == "mastodon")
    care = masto["quadrants"]["care"]
    assert care["status"] == "higher" and care["low"] > 1 and care["n"] >= 8
    assert care["text"].startswith("Care for others posts on Mastodon @brand@fake.social: ")
    x = next(a for a in body["accounts"] if a["platform"] == "x")
    assert x["quadrants"]["try"]["status"] == "not_enough_posts"
    assert x["quadrants"]["try"]["ratio"] is None  # never a made-up number
    assert body["health"][str(seeded.accounts["mastodon"])]["reason"].startswith("Mastodon")
    assert "Welch" in body["model"]["interval"]


def test_api_refuses_other_workspaces_and_bad_dates(seeded, client):
    token = token_for("viewer@glow.test")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/workspaces/{seeded.workspace_id + 100}/insight",
                      headers=headers).status_code == 404
    bad = client.get(f"/api/v1/workspaces/{seeded.workspace_id}/insight?from=yesterday",
                     headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "from"


def test_page_and_csv(seeded, make_client):
    viewer = make_client("viewer@glow.test")
    page = viewer.get(f"/w/{seeded.slug}/insight")
    assert page.status_code == 200
    assert "<svg" in page.text and 'data-status="higher"' in page.text
    assert "What resonates" in page.text and "Channel health" in page.text
    resp = viewer.get(f"/w/{seeded.slug}/insight.csv")
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    care = next(r for r in rows if r["platform"] == "mastodon" and r["quadrant"] == "care"
                and r["channel"].startswith("Mastodon @"))
    assert care["status"] == "higher" and float(care["lift"]) > 1.5
    x_try = next(r for r in rows if r["platform"] == "x" and r["quadrant"] == "try")
    assert x_try["lift"] == "" and x_try["status"] == "not_enough_posts"


def test_composer_hint_names_value_channel_and_count(seeded, make_client):
    manager = make_client("manager@glow.test")
    token = page_csrf(manager, f"/w/{seeded.slug}/insight")
    resp = manager.post(f"/w/{seeded.slug}/compose/insight",
                        data={"csrf_token": token, "tags": ["care"],
                              "account_ids": [str(seeded.accounts["mastodon"])]})
    assert resp.status_code == 200
    assert "Care for others posts on Mastodon @brand@fake.social: " in resp.text
    assert "x your typical engagement" in resp.text and " posts" in resp.text
    viewer = make_client("viewer@glow.test")
    refused = viewer.post(f"/w/{seeded.slug}/compose/insight",
                          data={"csrf_token": page_csrf(viewer, f"/w/{seeded.slug}/insight"),
                                "tags": ["care"]})
    assert refused.status_code in (403, 404)


def test_switching_x_metrics_on_is_for_brand_leads(seeded, make_client, engine):
    admin = make_client("admin@glow.test")
    token = page_csrf(admin, f"/w/{seeded.slug}/insight")
    resp = admin.post(f"/w/{seeded.slug}/insight/accounts/{seeded.accounts['x']}/"
                      "billed-metrics", data={"csrf_token": token, "enabled": "1"},
                      follow_redirects=False)
    assert resp.status_code == 303
    with session_scope(engine) as s:
        from planner.insight import collect
        assert collect.billed_enabled(s, seeded.accounts["x"])
    viewer = make_client("viewer@glow.test")
    refused = viewer.post(f"/w/{seeded.slug}/insight/accounts/{seeded.accounts['x']}/"
                          "billed-metrics",
                          data={"csrf_token": page_csrf(viewer, f"/w/{seeded.slug}/insight"),
                                "enabled": "0"})
    assert refused.status_code in (403, 404)


def test_balance_page_what_next_says_what_it_follows(seeded, make_client):
    lead = make_client("admin@glow.test")
    page = lead.get(f"/w/{seeded.slug}/balance?window=20")
    assert page.status_code == 200
    assert 'data-follows="' in page.text
    assert "Following balance" in page.text or "Following resonance" in page.text
