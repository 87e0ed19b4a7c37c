"""The Inbox in the REST API (issue 16): list, read, reply, status, assign and record a sale,
with the page's roles; a reply is committed as pending before the platform is called."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from planner.conversions import inbox, webhooks
from planner.db import session_scope
from planner.models import Account, User
from planner.models_conversions import Contact, ConversionEvent, EventKind, Message
from planner.team import users
from tests.planner.conversions.test_inbox import FakeDMs


def _token(email: str) -> str:
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="t").secret


@pytest.fixture
def api(conv, client):
    tokens: dict[str, str] = {}

    def call(method, path, email="manager@acme.test", workspace_id=None, **kw):
        if email not in tokens:
            tokens[email] = _token(email)
        ws = conv.workspace_id if workspace_id is None else workspace_id
        return client.request(method, f"/api/v1/workspaces/{ws}{path}",
                              headers={"Authorization": f"Bearer {tokens[email]}"}, **kw)
    return call


@pytest.fixture
def fake(engine, conv) -> Iterator[FakeDMs]:
    f = FakeDMs()
    with session_scope(engine) as s:
        for account_id in (conv.x, conv.ig):
            s.get(Account, account_id).api_base = f.base
    yield f
    f.server.shutdown()


def _dm(engine, conv, sender, account="ig", text="GLOW", at=None) -> int:
    with session_scope(engine) as s:
        return inbox.record_dm(session=s, account=s.get(Account, getattr(conv, account)),
                               sender_id=sender, text=text, at=at).contact.id


@pytest.fixture
def people(engine, conv):
    """An Instagram DM (Nov 20), an X DM (Nov 22), a shop buyer (never messaged, Nov 5)."""
    ig = _dm(engine, conv, "IG-1", at=datetime(2026, 11, 20, tzinfo=UTC))
    x = _dm(engine, conv, "X-1", account="x", text="hi", at=datetime(2026, 11, 22, tzinfo=UTC))
    with session_scope(engine) as s:
        shop = webhooks.record_shop_event(
            session=s, workspace_id=conv.workspace_id, source="shop", kind="sale",
            data={"email": "buyer@x.test", "order_id": "O-1", "amount": "10",
                  "currency": "EUR", "at": "2026-11-05T10:00:00+00:00"})["contact_id"]
    return {"ig": ig, "x": x, "shop": shop}


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["contact"]["id"] for item in response.json()["items"]]


class TestListAndRead:
    def test_lists_latest_first_with_filters_and_pages(self, engine, conv, api, people):
        assert _ids(api("GET", "/conversations", email="viewer@acme.test")) == [
            people["x"], people["ig"], people["shop"]]
        assert _ids(api("GET", "/conversations?channel=instagram")) == [people["ig"]]
        assert _ids(api("GET", "/conversations?status=won")) == [people["shop"]]
        assert _ids(api("GET", "/conversations?since=2026-11-21T00:00:00Z")) == [people["x"]]
        r = api("PUT", f"/conversations/{people['ig']}/assignee",
                json={"assignee_id": conv.manager_id})
        assert r.status_code == 200, r.text
        assert _ids(api("GET", f"/conversations?assignee={conv.manager_id}")) == [people["ig"]]
        assert _ids(api("GET", "/conversations?assignee=none")) == [people["x"], people["shop"]]
        first = api("GET", "/conversations?limit=2").json()
        assert first["next_offset"] == 2
        rest = api("GET", "/conversations?limit=2&offset=2").json()
        assert [i["contact"]["id"] for i in rest["items"]] == [people["shop"]]
        assert rest["next_offset"] is None
        item = first["items"][1]
        assert item["channels"] == ["instagram"] and item["dm_keyword"] == "GLOW"
        assert item["last_message"]["text"] == "GLOW"

    def test_bad_filters_are_problem_details(self, api, people):
        for query in ("channel=fax", "status=happy", "assignee=me", "limit=0"):
            r = api("GET", f"/conversations?{query}")
            assert r.status_code == 422, query
            assert r.headers["content-type"].startswith("application/problem+json")

    def test_one_conversation_with_messages_journey_and_events(self, engine, conv, api,
                                                               people):
        r = api("GET", f"/conversations/{people['ig']}", email="viewer@acme.test")
        assert r.status_code == 200, r.text
        body = r.json()
        assert [m["text"] for m in body["messages"]] == ["GLOW"]
        assert {"kind": "instagram", "value": "IG-1"} in body["identities"]
        [touch] = body["journey"]
        assert (touch["kind"], touch["account_id"], touch["channel"]) == (
            "dm", conv.ig, "instagram acmeglow")
        assert touch["tags"] == ["try"]
        assert [e["kind"] for e in body["events"]] == ["contact"]
        shop = api("GET", f"/conversations/{people['shop']}").json()
        [sale] = [e for e in shop["events"] if e["kind"] == "sale"]
        assert (sale["order_id"], sale["amount"], sale["currency"]) == ("O-1", 10.0, "EUR")

    def test_a_merged_away_id_reads_the_contact_it_joined(self, engine, conv, api, people):
        with session_scope(engine) as s:  # one request names both: merged into the older
            webhooks.record_shop_event(session=s, workspace_id=conv.workspace_id,
                                       source="api", kind="contact",
                                       data={"contact_id": people["x"], "email": "buyer@x.test"})
        r = api("GET", f"/conversations/{people['shop']}")  # the newer one was merged away
        assert r.status_code == 200, r.text
        assert r.json()["contact"]["id"] == people["x"]
        assert r.json()["merged_from"] == people["shop"]
        assert {"kind": "email", "value": "buyer@x.test"} in r.json()["identities"]

    def test_other_workspaces_and_unknown_tokens(self, engine, conv, api, people, client):
        r = api("GET", f"/conversations/{people['ig']}", email="admin@other.test",
                workspace_id=conv.other_workspace_id)
        assert r.status_code == 404
        assert api("GET", "/conversations", email="admin@other.test").status_code == 404
        r = client.get(f"/api/v1/workspaces/{conv.workspace_id}/conversations",
                       headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401


class TestActions:
    def test_a_viewer_reads_but_cannot_act(self, api, people):
        cid = people["ig"]
        for method, path, body in (
                ("POST", "replies", {"text": "hi"}), ("PUT", "status", {"status": "lost"}),
                ("PUT", "assignee", {"assignee_id": None}),
                ("POST", "sales", {"order_id": "O-2", "amount": "5", "currency": "EUR"})):
            r = api(method, f"/conversations/{cid}/{path}", email="viewer@acme.test", json=body)
            assert r.status_code == 403, path
            assert r.headers["content-type"].startswith("application/problem+json")

    def test_reply_is_committed_pending_before_the_platform_is_called(self, engine, conv,
                                                                       api, people, fake):
        seen = []

        def look():  # another connection, while the platform is being called
            with session_scope(engine) as s:
                seen.extend((m.delivery, m.text) for m in s.exec(select(Message).where(
                    Message.direction == "out")).all())
        fake.on_send = look
        r = api("POST", f"/conversations/{people['ig']}/replies",
                json={"text": "Hej!", "account_id": conv.ig})
        assert r.status_code == 201, r.text
        assert (r.json()["delivery"], r.json()["remote_id"]) == ("sent", "mid.1")
        assert seen == [("pending", "Hej!")]
        path, body = fake.sent[0]
        # Sent by the Page (its id kept at sign-in, else the page token's ``me``), never
        # by the Instagram account's own id (issue 11, Instagram Messaging send API).
        assert path.split("?")[0].endswith("/me/messages") and "17841400000" not in path
        assert body["recipient"] == {"id": "IG-1"}
        with session_scope(engine) as s:
            assert s.get(Contact, people["ig"]).status == "talking"

    def test_a_refused_reply_is_recorded_failed(self, engine, conv, api, people):
        with session_scope(engine) as s:
            s.get(Account, conv.ig).api_base = "http://127.0.0.1:9"  # nothing listens
        r = api("POST", f"/conversations/{people['ig']}/replies",
                json={"text": "Hej!", "account_id": conv.ig})
        assert r.status_code == 201
        assert r.json()["delivery"] == "failed" and r.json()["error"]

    def test_reply_without_dm_api_is_a_note(self, conv, api, people):
        r = api("POST", f"/conversations/{people['shop']}/replies", json={"text": "Called"})
        assert r.status_code == 201 and r.json()["delivery"] == "note"
        r = api("POST", f"/conversations/{people['ig']}/replies",
                json={"text": "x", "account_id": 99999})
        assert r.status_code == 404

    def test_status_assign_and_sale(self, engine, conv, api, people):
        cid = people["x"]
        r = api("PUT", f"/conversations/{cid}/status", json={"status": "qualified"})
        assert r.status_code == 200 and r.json()["status"] == "qualified"
        r = api("PUT", f"/conversations/{cid}/assignee", json={"assignee_id": 99999})
        assert r.status_code == 422
        sale = {"order_id": "O-7", "amount": "12.50", "currency": "eur"}
        r = api("POST", f"/conversations/{cid}/sales", json=sale)
        assert r.status_code == 201, r.text
        again = api("POST", f"/conversations/{cid}/sales", json=sale)
        assert again.status_code == 200 and again.json()["event_id"] == r.json()["event_id"]
        assert api("POST", f"/conversations/{cid}/sales",
                   json={"amount": "1", "currency": "EUR"}).status_code == 422
        with session_scope(engine) as s:
            events = s.exec(select(ConversionEvent).where(
                ConversionEvent.contact_id == cid)).all()
            assert sorted(e.kind for e in events) == [EventKind.contact, EventKind.qualified,
                                                      EventKind.sale]
            assert s.get(Contact, cid).status == "won"

    def test_the_openapi_documents_the_inbox(self, client):
        paths = client.get("/openapi.json").json()["paths"]
        base = "/api/v1/workspaces/{workspace_id}/conversations"
        assert {"get"} <= set(paths[base]) and "get" in paths[base + "/{contact_id}"]
        reply = paths[base + "/{contact_id}/replies"]["post"]
        assert {"401", "403", "404", "422"} <= set(reply["responses"])
        for action in ("status", "assignee"):
            assert "put" in paths[f"{base}/{{contact_id}}/{action}"]
        assert "post" in paths[base + "/{contact_id}/sales"]
