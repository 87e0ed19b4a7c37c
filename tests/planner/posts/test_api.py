"""The REST API: Bearer tokens, each endpoint, and problem details with field paths."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from planner.db import session_scope
from planner.models import User
from planner.team import users


def token_for(email):
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="test").secret


@pytest.fixture
def api(world, client):
    def call(method, path, email="manager@acme.test", **kw):
        headers = {"Authorization": f"Bearer {token_for(email)}", **kw.pop("headers", {})}
        return client.request(method, f"/api/v1{path}", headers=headers, **kw)
    return call


def future_local(days=10):
    local = (datetime.now(UTC) + timedelta(days=days)).astimezone(ZoneInfo("Europe/Warsaw"))
    return local.strftime("%Y-%m-%dT09:15")


class TestTokens:
    def test_missing_and_bad_token(self, world, client):
        r = client.get("/api/v1/me")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        r = client.get("/api/v1/me", headers={"Authorization": "Bearer poise_nope"})
        assert r.status_code == 401 and "unknown or revoked" in r.json()["detail"]

    def test_token_works_until_revoked_and_is_hashed_at_rest(self, world, client):
        secret = token_for("admin@acme.test")
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/me", headers=headers).json()["email"] == "admin@acme.test"
        with session_scope() as s:
            from planner.models import ApiToken

            token = s.exec(select(ApiToken)).one()
            assert secret not in (token.token_hash, token.prefix) and token.last_used_at
            users.revoke_api_token(session=s, user=s.get(User, token.user_id),
                                   token_id=token.id)
        assert client.get("/api/v1/me", headers=headers).status_code == 401

    def test_workspaces_lists_memberships(self, api, world):
        r = api("GET", "/workspaces")
        assert [(m["workspace"]["slug"], m["role"]) for m in r.json()] == [
            (world.slug, "manager")]


class TestPosts:
    def test_text_longer_than_any_platform_takes_is_refused(self, api, world):
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "a" * 63_207, "account_ids": [world.account_id]})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["text"]
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "a" * 63_206, "account_ids": [world.account_id]})
        assert r.status_code == 201

    def test_a_javascript_remote_url_is_not_served_as_a_link(self, api, world):
        from planner.models import Publication
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "hi", "account_ids": [world.account_id]})
        post_id = r.json()["id"]
        with session_scope() as s:
            pub = s.exec(select(Publication).where(Publication.post_id == post_id)).one()
            pub.remote_url = "javascript:alert(document.domain)//"
        r = api("GET", f"/workspaces/{world.workspace_id}/posts/{post_id}")
        assert r.json()["publications"][0]["remote_url"] == ""

    def test_create_submit_approve_and_read(self, api, world):
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "Tip: check tyre pressure weekly", "account_ids": [world.account_id],
            "tags": ["learn"], "scheduled_local": future_local()})
        assert r.status_code == 201, r.text
        post = r.json()
        assert post["status"] == "draft" and post["timezone"] == "Europe/Warsaw"
        assert post["publications"][0]["account_id"] == world.account_id
        base = f"/workspaces/{world.workspace_id}/posts/{post['id']}"
        r = api("POST", f"{base}/submit", json={"version": 1})
        assert r.json()["status"] == "in_review"
        r = api("POST", f"{base}/approve", json={"version": 2})
        assert r.status_code == 403  # a manager cannot approve
        r = api("POST", f"{base}/approve", email="lead@acme.test", json={"version": 2})
        assert r.json()["status"] == "approved"
        assert api("GET", base).json()["version"] == 3
        listed = api("GET", f"/workspaces/{world.workspace_id}/posts?status=approved").json()
        assert [p["id"] for p in listed] == [post["id"]]

    def test_update_conflict_and_request_changes(self, api, world):
        post = api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "a", "account_ids": [world.account_id]}).json()
        base = f"/workspaces/{world.workspace_id}/posts/{post['id']}"
        body = {"text": "b", "account_ids": [world.account_id], "version": 1}
        assert api("PUT", base, json=body).status_code == 200
        r = api("PUT", base, json=body)
        assert r.status_code == 409 and r.json()["title"] == "Conflict"
        api("POST", f"{base}/submit", json={"version": 2})
        r = api("POST", f"{base}/request-changes", email="lead@acme.test",
                json={"version": 3, "comment": "More detail"})
        assert r.json()["status"] == "changes_requested"
        r = api("POST", f"{base}/cancel", json={"version": 4})
        assert r.json()["status"] == "cancelled"

    def test_invalid_input_has_field_paths(self, api, world):
        r = api("POST", f"/workspaces/{world.workspace_id}/posts",
                json={"text": "x", "account_ids": [world.account_id, 999999]})
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["account_ids", 1]
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", json={"account_ids": "x"})
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert "text" in fields and "account_ids" in fields
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", content=b"{oops",
                headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.headers["content-type"].startswith(
            "application/problem+json")

    def test_other_workspace_is_404(self, api, world):
        r = api("POST", f"/workspaces/{world.other_workspace_id}/posts",
                json={"text": "x", "account_ids": []})
        assert r.status_code == 404

    def test_viewer_cannot_write(self, api, world):
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", email="viewer@acme.test",
                json={"text": "x", "account_ids": [world.account_id]})
        assert r.status_code == 403


class TestCalendarSlotsImport:
    def test_calendar_range(self, api, world):
        api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "in range", "account_ids": [world.account_id],
            "scheduled_local": "2026-12-05T10:00"})
        r = api("GET", f"/workspaces/{world.workspace_id}/calendar?start=2026-12-01&days=7")
        assert r.json()["total"] == 1
        item = r.json()["items"][0]
        assert item["local"] == "2026-12-05T10:00" and item["status"] == "draft"
        r = api("GET", f"/workspaces/{world.workspace_id}/calendar?start=2026-12-01&days=999")
        assert r.status_code == 422

    def test_slots_roundtrip(self, api, world):
        path = f"/workspaces/{world.workspace_id}/accounts/{world.account_id}/slots"
        r = api("PUT", path, json=[{"weekday": 0, "local_time": "09:00"},
                                    {"weekday": 4, "local_time": "18:30"}])
        assert r.status_code == 200
        assert api("GET", path).json() == [{"weekday": 0, "local_time": "09:00"},
                                           {"weekday": 4, "local_time": "18:30"}]
        r = api("PUT", path, json=[{"weekday": 9, "local_time": "09:00"}])
        assert r.status_code == 422

    def test_import_all_or_nothing(self, api, world):
        good = ("local_time,accounts,text,tags\n2027-12-01 09:00,@acme@bikes.social,One,learn\n"
                "2027-12-02 09:00,@acme@bikes.social,Two,try;share\n")
        r = api("POST", f"/workspaces/{world.workspace_id}/import", content=good.encode(),
                headers={"content-type": "text/csv"})
        assert r.json() == {"created": 2, "submitted": 0}
        bad = good + "2027-12-03 09:00,@nobody,Three,fun\n"
        r = api("POST", f"/workspaces/{world.workspace_id}/import", content=bad.encode(),
                headers={"content-type": "text/csv"})
        assert r.status_code == 422
        locs = [e["loc"] for e in r.json()["errors"]]
        assert ["line", 4, "accounts"] in locs and ["line", 4, "tags"] in locs
        assert len(api("GET", f"/workspaces/{world.workspace_id}/posts").json()) == 2


def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/workspaces/{workspace_id}/posts" in spec["paths"]
    op = spec["paths"]["/api/v1/workspaces/{workspace_id}/posts/{post_id}/approve"]["post"]
    assert "409" in op["responses"] and "422" in op["responses"]


def _post(api, world, **fields):
    body = {"text": "API post", "account_ids": [world.account_id], **fields}
    r = api("POST", f"/workspaces/{world.workspace_id}/posts", json=body)
    assert r.status_code == 201, r.text
    return r.json()


class TestPostLifecycle:
    def test_withdraw_back_to_draft(self, api, world):
        post = _post(api, world, scheduled_local=future_local())
        base = f"/workspaces/{world.workspace_id}/posts/{post['id']}"
        api("POST", f"{base}/submit", json={"version": 1})
        r = api("POST", f"{base}/withdraw", json={"version": 2})
        assert r.status_code == 200 and r.json()["status"] == "draft"
        r = api("POST", f"{base}/withdraw", json={"version": 3})
        assert r.status_code == 409 and "cannot be withdrawn" in r.json()["detail"]

    def test_past_time_and_publish_now(self, api, world):
        r = api("POST", f"/workspaces/{world.workspace_id}/posts",
                json={"text": "Late", "account_ids": [world.account_id],
                      "scheduled_local": "2020-01-01T09:00"})
        assert r.status_code == 422
        [error] = r.json()["errors"]
        assert "That time has passed in" in error["msg"] and "Publish now" in error["msg"]
        post = _post(api, world, tags=["learn"], publish_now=True)
        base = f"/workspaces/{world.workspace_id}/posts/{post['id']}"
        r = api("POST", f"{base}/publish-now", json={"version": 1})
        assert r.status_code == 200 and r.json()["status"] == "in_review"

    def test_delete_a_draft_and_refuse_a_live_post(self, api, world):
        draft = _post(api, world)
        path = f"/workspaces/{world.workspace_id}/posts/{draft['id']}"
        assert api("DELETE", path, email="viewer@acme.test").status_code == 403
        r = api("DELETE", path)
        assert r.status_code == 204 and r.content == b""
        assert api("GET", path).status_code == 404
        live = _post(api, world, scheduled_local=future_local())
        path = f"/workspaces/{world.workspace_id}/posts/{live['id']}"
        api("POST", f"{path}/submit", json={"version": 1})
        r = api("DELETE", path)
        assert r.status_code == 409
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "in review cannot be deleted" in r.json()["detail"]

    def test_a_post_of_another_workspace_is_404_by_id(self, api, world):
        mine = _post(api, world)
        theirs = api("POST", f"/workspaces/{world.other_workspace_id}/posts",
                     email="admin@other.test",
                     json={"text": "theirs", "account_ids": [world.other_account_id]}).json()
        base = f"/workspaces/{world.workspace_id}/posts"
        for method, suffix, body in (("GET", "", None), ("DELETE", "", None),
                                     ("POST", "/submit", {"version": 1}),
                                     ("PUT", "", {"text": "x", "account_ids": [],
                                                  "version": 1})):
            r = api(method, f"{base}/{theirs['id']}{suffix}", json=body)
            assert r.status_code == 404, (method, suffix)
            assert r.json()["detail"] == "No such post in this workspace."
        r = api("GET", f"/workspaces/{world.other_workspace_id}/posts/{mine['id']}")
        assert r.status_code == 404

    def test_per_account_variants(self, api, world, engine):
        from planner import accounts

        with session_scope(engine) as s:
            bsky = accounts.create_account(session=s, workspace_id=world.workspace_id,
                                           platform="bluesky", handle="acme.bsky.social").id
        post = _post(api, world, account_ids=[world.account_id, bsky],
                     variants={str(bsky): "Shorter for Bluesky"})
        variants = {p["account_id"]: p["text_variant"] for p in post["publications"]}
        assert variants == {world.account_id: None, bsky: "Shorter for Bluesky"}

    def test_add_to_queue_takes_a_slot_free_on_every_account(self, api, world, engine):
        from planner import accounts

        with session_scope(engine) as s:
            bsky = accounts.create_account(session=s, workspace_id=world.workspace_id,
                                           platform="bluesky", handle="acme.bsky.social").id
        slots = [{"weekday": d, "local_time": "06:15"} for d in range(7)]
        for account_id in (world.account_id, bsky):
            r = api("PUT", f"/workspaces/{world.workspace_id}/accounts/{account_id}/slots",
                    json=slots)
            assert r.status_code == 200
        solo = _post(api, world, account_ids=[world.account_id], add_to_queue=True)
        both = _post(api, world, account_ids=[world.account_id, bsky], add_to_queue=True)
        assert solo["scheduled_local"].endswith("T06:15")
        first = datetime.fromisoformat(solo["scheduled_at"])
        assert datetime.fromisoformat(both["scheduled_at"]) - first == timedelta(days=1)
        api("PUT", f"/workspaces/{world.workspace_id}/accounts/{bsky}/slots",
            json=[{"weekday": 0, "local_time": "22:00"}])
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "x", "account_ids": [world.account_id, bsky], "add_to_queue": True})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["account_ids"]
        assert "share no queue slot" in r.json()["detail"]

    def test_call_to_action_round_trips(self, api, world):
        post = _post(api, world, dm_keyword="RIDE", dm_product_url="https://shop.test/r",
                     dm_prefill="RIDE!", dm_call_to_action="DM us RIDE for a test ride")
        assert (post["dm_prefill"], post["dm_call_to_action"]) == (
            "RIDE!", "DM us RIDE for a test ride")


class TestCalendarFilters:
    def test_author_filter_and_validated_values(self, api, world):
        from planner.models import User

        _post(api, world, scheduled_local="2026-12-05T10:00")  # by the manager
        api("POST", f"/workspaces/{world.workspace_id}/posts", email="admin@acme.test",
            json={"text": "by admin", "account_ids": [world.account_id],
                  "scheduled_local": "2026-12-06T10:00"})
        with session_scope() as s:
            manager_id = s.exec(select(User.id).where(User.email == "manager@acme.test")).one()
        base = f"/workspaces/{world.workspace_id}/calendar?start=2026-12-01&days=31"
        assert api("GET", base).json()["total"] == 2
        r = api("GET", f"{base}&author={manager_id}")
        assert [i["first_line"] for i in r.json()["items"]] == ["API post"]
        r = api("GET", f"{base}&quadrant=fun&status=bogus")
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"quadrant", "status"}
        assert api("GET", f"{base}&quadrant=learn").json()["total"] == 0

    def test_cancelled_are_left_out_unless_asked_for(self, api, world):
        post = _post(api, world, scheduled_local="2026-12-05T10:00")
        api("POST", f"/workspaces/{world.workspace_id}/posts/{post['id']}/cancel",
            json={"version": 1})
        base = f"/workspaces/{world.workspace_id}/calendar?start=2026-12-01&days=31"
        assert api("GET", base).json()["total"] == 0
        assert api("GET", f"{base}&status=cancelled").json()["total"] == 1


class TestWorkspaceSettings:
    def test_admin_patches_and_reads(self, api, world):
        path = f"/workspaces/{world.workspace_id}"
        r = api("PATCH", path, email="admin@acme.test",
                json={"daily_cap_per_account": 5, "utm_campaign": "winter-26"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["daily_cap_per_account"], body["utm_campaign"], body["timezone"]) == (
            5, "winter-26", "Europe/Warsaw")  # fields not sent stay as they were
        r = api("PATCH", path, email="admin@acme.test", json={"timezone": "Asia/Tokyo"})
        assert r.json()["timezone"] == "Asia/Tokyo"
        assert api("GET", path, email="viewer@acme.test").json()["daily_cap_per_account"] == 5

    def test_refusals(self, api, world):
        path = f"/workspaces/{world.workspace_id}"
        r = api("PATCH", path, json={"daily_cap_per_account": 9})
        assert r.status_code == 403 and "Only admins" in r.json()["detail"]
        r = api("PATCH", path, email="admin@acme.test",
                json={"timezone": "Mars/Base", "daily_cap_per_account": -1,
                      "utm_campaign": "a b"})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {
            "timezone", "daily_cap_per_account", "utm_campaign"}
        r = api("PATCH", f"/workspaces/{world.other_workspace_id}", email="admin@acme.test",
                json={"utm_campaign": "x"})
        assert r.status_code == 404


class TestPromptTemplatesApi:
    BODY = {"name": "Glow", "keyword": "GLOW", "product_url": "https://shop.test/glow",
            "call_to_action": "DM us GLOW for 10% off"}

    def test_create_and_list(self, api, world):
        path = f"/workspaces/{world.workspace_id}/prompt-templates"
        r = api("POST", path, json=self.BODY)
        assert r.status_code == 201 and r.json()["id"] > 0
        listed = api("GET", path, email="viewer@acme.test").json()
        assert [(t["name"], t["call_to_action"]) for t in listed] == [
            ("Glow", "DM us GLOW for 10% off")]
        assert api("GET", f"/workspaces/{world.other_workspace_id}/prompt-templates"
                   ).status_code == 404

    def test_errors(self, api, world):
        path = f"/workspaces/{world.workspace_id}/prompt-templates"
        assert api("POST", path, email="viewer@acme.test", json=self.BODY).status_code == 403
        r = api("POST", path, json={**self.BODY, "product_url": "shop.test", "keyword": ""})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"product_url", "keyword"}
        api("POST", path, json=self.BODY)
        r = api("POST", path, json=self.BODY)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["name"]


def test_import_refuses_a_non_utf8_body_as_a_problem(api, world):
    raw = "local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,Zażółć\n".encode(
        "cp1250")
    r = api("POST", f"/workspaces/{world.workspace_id}/import", content=raw,
            headers={"content-type": "text/csv"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"loc": ["file"], "field": "file",
                                   "msg": r.json()["detail"]}]
    assert "not UTF-8" in r.json()["detail"]


def test_openapi_shares_one_problem_schema(client):
    spec = client.get("/openapi.json").json()
    schema = spec["components"]["schemas"]["ProblemDetail"]
    assert {"type", "title", "status", "detail", "errors"} <= set(schema["properties"])
    item = spec["components"]["schemas"]["ProblemError"]
    assert set(item["properties"]) == {"loc", "field", "msg"}
    ref = "#/components/schemas/ProblemDetail"
    for path, method in (("/api/v1/workspaces/{workspace_id}/posts/{post_id}", "delete"),
                         ("/api/v1/workspaces/{workspace_id}/posts/{post_id}/approve", "post"),
                         ("/api/v1/workspaces/{workspace_id}", "patch")):
        responses = spec["paths"][path][method]["responses"]
        for status in ("403", "404", "409", "422"):
            content = responses[status]["content"]["application/problem+json"]
            assert content["schema"] == {"$ref": ref}, (path, status)
            assert content["example"]["status"] == int(status)
        assert responses["422"]["content"]["application/problem+json"]["example"]["errors"]
    calendar_op = spec["paths"]["/api/v1/workspaces/{workspace_id}/calendar"]["get"]
    assert {"author", "quadrant", "status"} <= {p["name"] for p in calendar_op["parameters"]}
    assert "HTTPValidationError" not in str(calendar_op["responses"])
