"""The conversions API (problem details on refusal) and the attribution page and CSV."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from planner import users
from planner.conversions import inbox
from planner.db import session_scope
from planner.models import Account, User


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

    def test_csv_export(self, engine, conv, api, make_client):
        _dm_then_sale(engine, conv, api)
        viewer = make_client("viewer@acme.test")
        r = viewer.get(f"/w/{conv.slug}/attribution.csv?from=2026-11-01&to=2026-11-30")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        ig = [row for row in rows if row["key"] == str(conv.ig)]
        assert {row["model"] for row in ig} == {"first", "last"}
        assert all(row["sales"] == "1" and row["revenue"] == "EUR 80.00" for row in ig)

    def test_admin_changes_the_dud_threshold(self, engine, conv, make_client):
        from webhelpers import page_csrf

        admin = make_client("admin@acme.test")
        page = admin.get(f"/w/{conv.slug}/attribution")
        assert "whsec_" in page.text
        token = page_csrf(admin, f"/w/{conv.slug}/attribution")
        r = admin.post(f"/w/{conv.slug}/attribution/settings",
                       data={"csrf_token": token, "threshold": "5", "min_sessions": "10",
                             "weeks": "6", "cooldown_hours": "12",
                             "meta_verify_token": "abc",
                             "meta_app_secret": "app-secret-not-in-ciphertext"},
                       follow_redirects=False)
        assert r.status_code == 303
        with session_scope(engine) as s:
            row = inbox.settings_for(s, conv.workspace_id)
            assert (row.dud_contacts_per_100_sessions, row.dud_window_weeks) == (5.0, 6)
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
