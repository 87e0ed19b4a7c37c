"""The conversions API (problem details on refusal) and the attribution page and CSV."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from planner.conversions import inbox
from planner.db import session_scope
from planner.models import Account, User
from planner.team import users


def token_for(email):
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="test").secret


@pytest.fixture
def api(conv, client):
    def call(method, path, email="manager@acme.test", **kw):
        headers = {"Authorization": f"Bearer {token_for(email)}", **kw.pop("headers", {})}
        return client.request(method, f"/api/v1/workspaces/{conv.workspace_id}{path}",
                              headers=headers, **kw)
    return call


def _dm_then_sale(engine, conv, api, at="2026-11-20T10:00:00Z"):
    from datetime import datetime

    with session_scope(engine) as s:
        result = inbox.record_dm(session=s, account=s.get(Account, conv.ig), sender_id="IG-1",
                                 text="GLOW", at=datetime.fromisoformat(at.replace("Z", "+00:00")))
        cid = result.contact.id
    r = api("POST", "/conversions", json={"type": "sale", "order_id": "S-1", "amount": "80",
                                          "currency": "EUR", "contact_id": cid,
                                          "at": "2026-11-21T10:00:00Z"})
    assert r.status_code == 201, r.text
    return cid


def _sessions_without_contacts(engine, conv) -> None:
    """20 X sessions a week in the last three weeks to Nov 30, and no contact: a dud."""
    from datetime import UTC, datetime, timedelta

    from planner.models_conversions import Touchpoint

    end = datetime(2026, 11, 30, 23, tzinfo=UTC)  # Warsaw midnight ends the range
    with session_scope(engine) as s:
        for week in range(3):
            for n in range(20):
                s.add(Touchpoint(workspace_id=conv.workspace_id, kind="session",
                                 at=end - timedelta(weeks=week, hours=n + 1),
                                 account_id=conv.x, post_id=conv.p_try,
                                 publication_id=conv.pub["x-try"], visitor_id=f"v{week}{n}"))


class TestConversionsApi:
    def test_sale_is_idempotent_on_order_id(self, engine, conv, api):
        body = {"type": "sale", "order_id": "S-9", "amount": 12.5, "currency": "EUR",
                "email": "buyer@x.test"}
        first = api("POST", "/conversions", json=body)
        again = api("POST", "/conversions", json=body)
        assert first.status_code == 201 and again.status_code == 200
        assert first.json()["event_id"] == again.json()["event_id"]
        assert again.json()["created"] is False

    def test_invalid_input_is_problem_details_with_field_paths(self, conv, api):
        r = api("POST", "/conversions", json={"type": "sale", "amount": "1",
                                              "currency": "EURO", "email": "a@b.test",
                                              "order_id": "x"})
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == "currency"
        r = api("POST", "/conversions", json={"type": "refund"})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"][:2] == ["body", "type"]
        r = api("POST", "/conversions", json={"type": "sale", "amount": "1", "currency": "EUR"})
        assert r.status_code == 422  # no identifier at all

    def test_viewer_cannot_post_and_strangers_get_404(self, conv, api):
        body = {"type": "qualified", "email": "a@b.test"}
        assert api("POST", "/conversions", email="viewer@acme.test",
                   json=body).status_code == 403
        r = api("GET", "/attribution", email="admin@other.test")
        assert r.status_code == 404 and r.json()["status"] == 404

    def test_attribution_by_channel_and_quadrant(self, engine, conv, api):
        _dm_then_sale(engine, conv, api)
        for model in ("first", "last"):
            r = api("GET", "/attribution", params={"from": "2026-11-01", "to": "2026-11-30",
                                                   "model": model, "by": "channel"})
            assert r.status_code == 200, r.text
            rows = {row["key"]: row for row in r.json()["rows"]}
            ig = rows[str(conv.ig)]
            assert (ig["contacts"], ig["sales"], ig["revenue"]) == (1, 1, {"EUR": 80.0})
            q = api("GET", "/attribution", params={"from": "2026-11-01", "to": "2026-11-30",
                                                   "model": model, "by": "quadrant"}).json()
            assert {row["key"]: row["sales"] for row in q["rows"]} == {"try": 1}

    def test_bad_query_parameters(self, conv, api):
        r = api("GET", "/attribution", params={"model": "middle"})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "model"]
        r = api("GET", "/attribution", params={"from": "2026-11-30", "to": "2026-11-01"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"

    def test_contacts_and_tracked_links(self, engine, conv, api):
        _dm_then_sale(engine, conv, api)
        [contact] = api("GET", "/contacts").json()
        assert contact["status"] == "won"
        body = {"publication_id": conv.pub["x-try"], "url": "https://shop.acme.test/a"}
        one, two = api("POST", "/tracked-links", json=body), api("POST", "/tracked-links",
                                                                 json=body)
        assert one.status_code == 200 and one.json() == two.json()
        other = api("POST", "/tracked-links", json={**body, "publication_id": conv.other_pub})
        assert other.status_code == 404


class TestAttributionPage:
    def test_page_shows_both_models_and_a_chart(self, engine, conv, api, make_client):
        _dm_then_sale(engine, conv, api)
        viewer = make_client("viewer@acme.test")
        r = viewer.get(f"/w/{conv.slug}/attribution?from=2026-11-01&to=2026-11-30")
        assert r.status_code == 200
        assert "first touch" in r.text and "last touch" in r.text
        assert 'role="img"' in r.text and "<title>Contacts and sales by channel" in r.text
        assert "Instagram acmeglow" in r.text and "80.00 EUR" in r.text
        assert "Conversion settings" not in r.text  # admins only

    def test_a_rate_above_100_percent_is_explained_beside_it(self, engine, conv, api,
                                                              make_client):
        cid = _dm_then_sale(engine, conv, api)
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/w/{conv.slug}/attribution?from=2026-11-01&to=2026-11-30").text
        assert "above 100%: why?" not in page  # one sale, no qualification yet: no rate
        r = api("PUT", f"/conversations/{cid}/status", json={"status": "qualified"})
        assert r.status_code == 200
        r = api("POST", "/conversions", json={"type": "sale", "order_id": "S-2", "amount": "5",
                                              "currency": "EUR", "contact_id": cid,
                                              "at": "2026-11-25T10:00:00Z"})
        assert r.status_code == 201, r.text
        page = viewer.get(f"/w/{conv.slug}/attribution?from=2026-11-01&to=2026-12-31").text
        assert "/ 200.0%" in page and 'href="#rates-over-100"' in page
        assert "a contact who buys twice makes two sales for one qualification" in page

    def test_csv_export(self, engine, conv, api, make_client):
        _dm_then_sale(engine, conv, api)
        viewer = make_client("viewer@acme.test")
        r = viewer.get(f"/w/{conv.slug}/attribution.csv?from=2026-11-01&to=2026-11-30")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        ig = [row for row in rows if row["key"] == str(conv.ig) and row["model"] != "health"]
        assert {row["model"] for row in ig} == {"first", "last"}
        assert all(row["sales"] == "1" and row["revenue"] == "EUR 80.00" for row in ig)

    def test_csv_carries_channel_health_and_dud_flags(self, engine, conv, make_client):
        _sessions_without_contacts(engine, conv)
        viewer = make_client("viewer@acme.test")
        r = viewer.get(f"/w/{conv.slug}/attribution.csv?from=2026-11-01&to=2026-11-30")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        [health] = [row for row in rows if row["model"] == "health"]
        assert (health["key"], health["underperforming"], health["weeks_below"]) == (
            str(conv.x), "yes", "3")
        assert health["weekly_sessions"] == "0 20 20 20"
        assert health["weekly_contacts_per_100"] == "- 0 0 0"
        x_rows = [row for row in rows if row["key"] == str(conv.x) and row["by"] == "channel"
                  and row["model"] in ("first", "last")]
        assert [row["underperforming"] for row in x_rows] == ["yes", "yes"]

    def test_page_flags_the_dud(self, engine, conv, make_client):
        _sessions_without_contacts(engine, conv)
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/w/{conv.slug}/attribution?from=2026-11-01&to=2026-11-30").text
        assert f'<tr data-key="{conv.x}" class="dud">' in page
        assert "in each of the last 3 weeks" in page

    def test_admin_changes_the_dud_threshold(self, engine, conv, make_client):
        from webhelpers import page_csrf

        admin = make_client("admin@acme.test")
        page = admin.get(f"/w/{conv.slug}/attribution")
        assert "whsec_" in page.text
        token = page_csrf(admin, f"/w/{conv.slug}/attribution")
        r = admin.post(f"/w/{conv.slug}/attribution/settings",
                       data={"csrf_token": token, "threshold": "5", "min_sessions": "10",
                             "weeks": "6", "weeks_below": "2", "cooldown_hours": "12",
                             "meta_verify_token": "abc",
                             "meta_app_secret": "app-secret-not-in-ciphertext"},
                       follow_redirects=False)
        assert r.status_code == 303
        with session_scope(engine) as s:
            row = inbox.settings_for(s, conv.workspace_id)
            assert (row.dud_contacts_per_100_sessions, row.dud_window_weeks) == (5.0, 6)
            assert (row.dud_min_sessions, row.dud_weeks_below) == (10, 2)
            # a long secret: a short one can occur in the base64 ciphertext by chance
            assert row.meta_verify_token == "abc"
            assert "app-secret-not-in-ciphertext" not in row.meta_app_secret_enc

    def test_xss_in_labels_is_escaped(self, engine, conv, make_client):
        with session_scope(engine) as s:
            s.get(Account, conv.masto).handle = "<script>alert(1)</script>"
        admin = make_client("admin@acme.test")
        from planner.conversions import links
        from planner.models import Publication

        with session_scope(engine) as s:
            url = links.tracked_link_for(s, s.get(Publication, conv.pub["masto-care"]),
                                         "https://shop.acme.test/x")
        admin.get(url.replace("http://127.0.0.1:8000", ""),
                  headers={"User-Agent": "Mozilla/5.0 Firefox/130"}, follow_redirects=False)
        r = admin.get(f"/w/{conv.slug}/attribution")
        assert "<script>alert(1)" not in r.text and "&lt;script&gt;" in r.text


class TestAttributionAtTheIssuePath:
    """GET /api/v1/attribution: the workspace comes from the token's user when it has one."""

    def _get(self, client, email, **params):
        return client.get("/api/v1/attribution", params=params,
                          headers={"Authorization": f"Bearer {token_for(email)}"})

    def test_a_member_of_one_workspace_needs_no_parameter(self, engine, conv, api, client):
        _dm_then_sale(engine, conv, api)
        r = self._get(client, "viewer@acme.test", **{"from": "2026-11-01", "to": "2026-11-30",
                                                     "model": "first", "by": "channel"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["workspace_id"], body["workspace"]) == (conv.workspace_id, conv.slug)
        rows = {row["key"]: row for row in body["rows"]}
        assert (rows[str(conv.ig)]["sales"], rows[str(conv.ig)]["revenue"]) == (1, {"EUR": 80})
        # the same answer as the workspace path
        old = api("GET", "/attribution", params={"from": "2026-11-01", "to": "2026-11-30",
                                                 "model": "first", "by": "channel"})
        assert old.json() == body

    def test_a_member_of_several_must_name_the_workspace(self, engine, conv, client):
        from planner.models import Workspace

        with session_scope(engine) as s:
            user = s.exec(select(User).where(User.email == "manager@acme.test")).one()
            other = s.get(Workspace, conv.other_workspace_id)
            users.add_member(session=s, workspace=other, user=user, role=users.Role.viewer)
            other_slug = other.slug
        r = self._get(client, "manager@acme.test")
        assert r.status_code == 422
        [problem] = r.json()["errors"]
        assert problem["field"] == "workspace" and other_slug in problem["msg"]
        by_id = self._get(client, "manager@acme.test", workspace=str(conv.workspace_id))
        by_slug = self._get(client, "manager@acme.test", workspace=other_slug)
        assert by_id.status_code == by_slug.status_code == 200
        assert by_id.json()["workspace_id"] == conv.workspace_id
        assert by_slug.json()["workspace_id"] == conv.other_workspace_id

    def test_a_workspace_of_someone_else_is_404(self, conv, client):
        r = self._get(client, "admin@other.test", workspace=conv.slug)
        assert r.status_code == 404
        assert self._get(client, "viewer@acme.test", workspace="999").status_code == 404

    def test_no_token_is_401(self, conv, client):
        assert client.get("/api/v1/attribution").status_code == 401

    def test_channel_health_and_dud_flags(self, engine, conv, client):
        _sessions_without_contacts(engine, conv)
        body = self._get(client, "viewer@acme.test", **{"from": "2026-11-01",
                                                        "to": "2026-11-30"}).json()
        [x] = body["channel_health"]
        assert (x["key"], x["underperforming"], x["weeks_below"]) == (str(conv.x), True, 3)
        assert x["weekly_sessions"] == [0, 20, 20, 20]
        assert x["weekly_contacts_per_100"] == [None, 0, 0, 0]
        rule = body["rule"]
        assert (rule["weeks_below"], rule["min_sessions_per_week"], rule["window_weeks"]) == (
            3, 10, 4)
        assert rule["window_end"] == body["end"]

    def test_documented_in_openapi(self, client):
        spec = client.get("/openapi.json").json()
        assert "/api/v1/attribution" in spec["paths"]
        params = {p["name"] for p in spec["paths"]["/api/v1/attribution"]["get"]["parameters"]}
        assert {"from", "to", "model", "by", "workspace"} <= params
