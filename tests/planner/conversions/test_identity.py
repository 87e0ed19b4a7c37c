"""One customer, one contact (issue 16): every identifier a shop webhook or API request carries
joins the one contact, a sale needs its order id on every route, and contact ids are never
reused; a merged-away id keeps naming the contact it joined."""

from __future__ import annotations

import json
import time

import pytest
from sqlmodel import select

from planner.conversions import inbox, links, webhooks
from planner.db import session_scope
from planner.models import Account, Publication, User
from planner.models_conversions import (
    Contact,
    ContactIdentity,
    ConversionEvent,
    EventKind,
    Touchpoint,
)
from planner.team import users
from publishers.webhook import sign

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def _token(email: str = "manager@acme.test") -> str:
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="t").secret


@pytest.fixture
def send(engine, conv, client):
    """send(route, type, data) through the signed shop webhook or the REST API."""
    with session_scope(engine) as s:
        secret = webhooks.shop_secret(s, conv.workspace_id)
    token = _token()
    count = iter(range(1000))

    def call(route: str, kind: str, data: dict):
        if route == "shop":
            msg_id = f"msg_{next(count)}"
            raw, stamp = json.dumps({"type": kind, "data": data}), int(time.time())
            return client.post(f"/hooks/{conv.slug}/shop", content=raw, headers={
                "webhook-id": msg_id, "webhook-timestamp": str(stamp),
                "webhook-signature": sign(secret, msg_id, stamp, raw),
                "content-type": "application/json"})
        body = {"type": kind, **data}
        if kind != "sale" and "id" in body:
            body["external_id"] = body.pop("id")
        return client.post(f"/api/v1/workspaces/{conv.workspace_id}/conversions", json=body,
                           headers={"Authorization": f"Bearer {token}"})
    return call


ROUTES = pytest.mark.parametrize("route", ["shop", "api"])


def _dm_contact(engine, conv, sender="IG-5") -> int:
    with session_scope(engine) as s:
        return inbox.record_dm(session=s, account=s.get(Account, conv.ig), sender_id=sender,
                               text="GLOW").contact.id


def _click(engine, conv, client, publication="x-try") -> str:
    """A person clicks the tracked link of ``publication``; returns their visitor id."""
    with session_scope(engine) as s:
        url = links.tracked_link_for(s, s.get(Publication, conv.pub[publication]),
                                     "https://shop.acme.test/glow")
    client.cookies.clear()
    r = client.get("/r/" + url.rsplit("/", 1)[1], headers={"user-agent": BROWSER},
                   follow_redirects=False)
    assert r.status_code == 302
    visitor = r.cookies.get(links.VISITOR_COOKIE)
    client.cookies.clear()
    assert visitor
    return visitor


def _contacts(engine) -> list[Contact]:
    with session_scope(engine) as s:
        return list(s.exec(select(Contact).order_by(Contact.id)).all())


def _identities(engine, contact_id: int) -> set[tuple[str, str]]:
    with session_scope(engine) as s:
        return {(i.kind, i.value) for i in s.exec(select(ContactIdentity).where(
            ContactIdentity.contact_id == contact_id)).all()}


def _sale(engine, order_id: str) -> ConversionEvent:
    with session_scope(engine) as s:
        return s.exec(select(ConversionEvent).where(
            ConversionEvent.external_id == order_id)).one()


class TestEveryIdentifierJoinsTheOneContact:
    @ROUTES
    def test_a_visitor_id_sent_with_contact_id_is_attached_and_credited(
            self, engine, conv, client, send, route):
        cid = _dm_contact(engine, conv)  # first touch: the Instagram DM
        visitor = _click(engine, conv, client)  # then an anonymous click on X
        r = send(route, "sale", {"contact_id": cid, "visitor_id": visitor, "order_id": "O-1",
                                 "amount": "20", "currency": "EUR"})
        assert r.status_code == 201, r.text
        assert r.json()["contact_id"] == cid
        assert ("visitor", visitor) in _identities(engine, cid)
        with session_scope(engine) as s:
            click = s.exec(select(Touchpoint).where(Touchpoint.kind == "session")).one()
            assert click.contact_id == cid
        sale = _sale(engine, "O-1")
        assert (sale.first_account_id, sale.last_account_id) == (conv.ig, conv.x)

    @ROUTES
    def test_an_email_sent_with_contact_id_is_kept_so_the_next_order_joins(
            self, engine, conv, client, send, route):
        cid = _dm_contact(engine, conv)
        first = send(route, "sale", {"contact_id": cid, "email": "Ola@Example.com",
                                     "order_id": "O-1", "amount": "20", "currency": "EUR"})
        assert first.status_code == 201, first.text
        assert ("email", "ola@example.com") in _identities(engine, cid)
        visitor = _click(engine, conv, client)
        again = send(route, "sale", {"visitor_id": visitor, "email": "ola@example.com",
                                     "order_id": "O-2", "amount": "30", "currency": "EUR"})
        assert again.status_code == 201, again.text
        assert again.json() == {**again.json(), "contact_id": cid, "contact_created": False}
        assert [c.id for c in _contacts(engine)] == [cid]
        assert ("visitor", visitor) in _identities(engine, cid)

    @ROUTES
    def test_phone_and_sender_ids_are_attached_too(self, engine, conv, send, route):
        cid = _dm_contact(engine, conv)
        r = send(route, "qualified", {"contact_id": cid, "phone": "+48 600 100 200",
                                      "sender_ids": {"x": "777"}, "id": "q-1"})
        assert r.status_code == 201, r.text
        assert {("phone", "+48600100200"), ("x", "777"),
                ("instagram", "IG-5")} <= _identities(engine, cid)
        # An X DM from that sender id now lands on the same contact.
        with session_scope(engine) as s:
            dm = inbox.record_dm(session=s, account=s.get(Account, conv.x), sender_id="777",
                                 text="hello")
            assert dm.contact.id == cid

    @ROUTES
    def test_contact_id_and_an_email_of_another_contact_merge_into_the_older(
            self, engine, conv, send, route):
        older = _dm_contact(engine, conv)
        r = send(route, "contact", {"email": "b@x.test", "id": "c-1"})
        newer = r.json()["contact_id"]
        assert newer != older
        r = send(route, "sale", {"contact_id": newer, "sender_ids": {"instagram": "IG-5"},
                                 "order_id": "O-9", "amount": "5", "currency": "EUR"})
        assert r.status_code == 201, r.text
        assert r.json()["contact_id"] == older
        assert [c.id for c in _contacts(engine)] == [older]
        assert {("email", "b@x.test"), ("instagram", "IG-5")} <= _identities(engine, older)

    @ROUTES
    def test_a_replayed_order_with_contact_id_of_someone_else_merges_them(
            self, engine, conv, send, route):
        r = send(route, "sale", {"email": "a@x.test", "order_id": "O-1", "amount": "5",
                                 "currency": "EUR"})
        buyer = r.json()["contact_id"]
        other = send(route, "contact", {"email": "other@x.test", "id": "c-2"}).json()
        again = send(route, "sale", {"contact_id": other["contact_id"], "order_id": "O-1",
                                     "amount": "5", "currency": "EUR"})
        assert again.status_code == 200, again.text
        assert again.json()["contact_id"] == buyer and again.json()["created"] is False
        assert [c.id for c in _contacts(engine)] == [buyer]
        with session_scope(engine) as s:
            assert len(s.exec(select(ConversionEvent).where(
                ConversionEvent.kind == EventKind.sale)).all()) == 1

    @ROUTES
    def test_a_contact_event_answers_its_event_id(self, engine, conv, send, route):
        r = send(route, "contact", {"email": "new@x.test", "id": "c-1"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["event_id"] is not None
        with session_scope(engine) as s:
            event = s.get(ConversionEvent, body["event_id"])
            assert (event.kind, event.contact_id) == (EventKind.contact, body["contact_id"])
        again = send(route, "contact", {"email": "new@x.test", "id": "c-2"})
        assert again.status_code == 200 and again.json()["event_id"] == body["event_id"]

    @ROUTES
    def test_a_buyer_never_seen_is_a_contact_dated_at_the_sale(self, engine, conv, send,
                                                                 route):
        r = send(route, "sale", {"email": "late@x.test", "order_id": "O-5", "amount": "5",
                                 "currency": "EUR", "at": "2026-11-10T08:00:00+00:00"})
        assert r.status_code == 201, r.text
        [contact] = _contacts(engine)
        assert contact.created_at.isoformat() == "2026-11-10T08:00:00+00:00"
        with session_scope(engine) as s:
            [event] = s.exec(select(ConversionEvent).where(
                ConversionEvent.kind == EventKind.contact)).all()
            assert event.at == contact.created_at


class TestASaleNeedsItsOrderId:
    @ROUTES
    def test_a_sale_without_order_id_is_refused_and_nothing_is_recorded(
            self, engine, conv, send, route):
        r = send(route, "sale", {"email": "a@x.test", "amount": "49.90", "currency": "EUR",
                                 "id": "not-an-order-id"})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]][-1].endswith("order_id")
        assert _contacts(engine) == []
        with session_scope(engine) as s:
            assert s.exec(select(ConversionEvent)).all() == []

    @ROUTES
    def test_an_invalid_amount_records_no_contact_either(self, engine, conv, send, route):
        r = send(route, "sale", {"email": "a@x.test", "order_id": "O-1", "amount": "lots",
                                 "currency": "EUR"})
        assert r.status_code == 422
        assert _contacts(engine) == []

    def test_the_same_sale_with_new_webhook_ids_is_one_sale(self, engine, conv, send):
        for _ in range(2):
            send("shop", "sale", {"email": "a@x.test", "order_id": "O-1", "amount": "5",
                                  "currency": "EUR"})
        with session_scope(engine) as s:
            assert len(s.exec(select(ConversionEvent).where(
                ConversionEvent.kind == EventKind.sale)).all()) == 1


class TestContactIdsAreNeverReused:
    def _merge_the_newest_away(self, engine, conv, send) -> tuple[int, int]:
        """Two contacts, the newer (highest id) merged into the older by one request."""
        older = send("shop", "contact", {"email": "a@x.test"}).json()["contact_id"]
        newer = send("shop", "contact", {"email": "b@x.test"}).json()["contact_id"]
        r = send("shop", "qualified", {"email": "a@x.test", "phone": "",
                                       "visitor_id": "", "contact_id": newer})
        assert r.json()["contact_id"] == older
        return older, newer

    def test_the_id_of_a_merged_contact_is_not_given_to_the_next_one(self, engine, conv, send):
        older, newer = self._merge_the_newest_away(engine, conv, send)
        stranger = send("shop", "contact", {"email": "stranger@x.test"}).json()["contact_id"]
        assert stranger > newer

    @ROUTES
    def test_a_merged_away_id_names_the_contact_it_joined(self, engine, conv, send, route,
                                                          make_client):
        older, newer = self._merge_the_newest_away(engine, conv, send)
        send("shop", "contact", {"email": "stranger@x.test"})
        r = send(route, "sale", {"contact_id": newer, "order_id": "O-1", "amount": "5",
                                 "currency": "EUR", "phone": "600100200"})
        assert r.status_code == 201, r.text
        assert r.json()["contact_id"] == older
        assert ("phone", "600100200") in _identities(engine, older)
        page = make_client("viewer@acme.test").get(f"/w/{conv.slug}/inbox/{newer}",
                                                   follow_redirects=False)
        assert page.status_code == 308
        assert page.headers["location"].endswith(f"/inbox/{older}")

    def test_a_chain_of_merges_still_resolves(self, engine, conv, send):
        first = send("shop", "contact", {"email": "1@x.test"}).json()["contact_id"]
        second = send("shop", "contact", {"email": "2@x.test"}).json()["contact_id"]
        third = send("shop", "contact", {"email": "3@x.test"}).json()["contact_id"]
        send("shop", "contact", {"email": "2@x.test", "contact_id": third})  # 3 -> 2
        send("shop", "contact", {"email": "1@x.test", "contact_id": second})  # 2 -> 1
        for gone in (second, third):
            r = send("api", "contact", {"contact_id": gone})
            assert r.status_code == 200 and r.json()["contact_id"] == first

    @pytest.mark.parametrize("table", ["contact", "conversionevent"])
    def test_the_table_autoincrements_on_sqlite(self, sqlite_engine, table):
        with sqlite_engine.connect() as conn:
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table,)).scalar_one()
        assert "AUTOINCREMENT" in sql.upper()


class TestRacingRequests:
    def test_two_requests_racing_for_a_new_email_make_one_contact(self, engine, conv):
        """PostgreSQL: the second insert of the identity waits for the first transaction and
        fails when it commits; the request looks again and joins that contact (SQLite
        serialises writing requests at BEGIN IMMEDIATE, so it never races)."""
        import threading

        from sqlalchemy import text as sql
        from sqlmodel import Session

        from planner.conversions import contacts

        if engine.dialect.name != "postgresql":
            pytest.skip("SQLite requests take the write lock at BEGIN: no race to lose")
        first = Session(engine, expire_on_commit=False)
        mine, _ = contacts.identify(session=first, workspace_id=conv.workspace_id,
                                    identities={"email": "race@x.test"}, source="shop")
        result: dict = {}

        def second_request() -> None:
            with session_scope(engine) as s:
                contact, created = contacts.identify(
                    session=s, workspace_id=conv.workspace_id, source="api",
                    identities={"email": "race@x.test", "phone": "600100200"})
                result.update(id=contact.id, created=created)

        thread = threading.Thread(target=second_request)
        thread.start()
        with engine.connect() as watch:  # until the second request waits on the first's row
            for _ in range(200):
                if watch.execute(sql("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE wait_event_type = 'Lock'")).scalar_one():
                    break
                watch.rollback()
                time.sleep(0.05)
        first.commit()
        first.close()
        thread.join(timeout=60)
        assert result == {"id": mine.id, "created": False}
        assert [c.id for c in _contacts(engine)] == [mine.id]
        assert ("phone", "600100200") in _identities(engine, mine.id)
