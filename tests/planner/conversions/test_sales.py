"""One sale per workspace and order id, whichever route brings it: the shop's signed webhook,
the REST API or the Inbox's "Record sale"."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from webhelpers import csrf_from

from planner.conversions import inbox, webhooks
from planner.db import session_scope
from planner.models import Account, User
from planner.models_conversions import Contact, ContactIdentity, ConversionEvent, EventKind
from planner.team import users
from publishers.webhook import sign


def _token(email: str) -> str:
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="t").secret


def _shop(client, engine, conv, data: dict, msg_id: str):
    with session_scope(engine) as s:
        secret = webhooks.shop_secret(s, conv.workspace_id)
    raw, stamp = json.dumps({"type": "sale", "data": data}), int(time.time())
    return client.post(f"/hooks/{conv.slug}/shop", content=raw, headers={
        "webhook-id": msg_id, "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, msg_id, stamp, raw),
        "content-type": "application/json"})


def _api(client, conv, body: dict):
    return client.post(f"/api/v1/workspaces/{conv.workspace_id}/conversions", json=body,
                       headers={"Authorization": f"Bearer {_token('manager@acme.test')}"})


def _sales(engine) -> list[ConversionEvent]:
    with session_scope(engine) as s:
        return list(s.exec(select(ConversionEvent).where(
            ConversionEvent.kind == EventKind.sale)).all())


def _dm_contact(engine, conv, sender="IG-5") -> int:
    with session_scope(engine) as s:
        return inbox.record_dm(session=s, account=s.get(Account, conv.ig), sender_id=sender,
                               text="GLOW").contact.id


def _sale_form(manager, conv, cid: int) -> dict:
    page = manager.get(f"/w/{conv.slug}/inbox/{cid}").text
    key = re.search(r'name="sale_key" value="([^"]+)"', page)
    assert key, "the sale form carries its key"
    return {"csrf_token": csrf_from(page), "sale_key": key.group(1), "amount": "30",
            "currency": "EUR"}


class TestOneSalePerOrder:
    def test_shop_then_api_then_inbox_count_one_sale(self, engine, conv, client, make_client):
        first = _shop(client, engine, conv, {"order_id": "A-1", "amount": "30", "currency": "EUR",
                                             "email": "ola@acme.test"}, "msg-1")
        assert first.status_code == 201
        again = _api(client, conv, {"type": "sale", "order_id": "A-1", "amount": "30",
                                    "currency": "EUR", "phone": "+48 600 100 200"})
        assert again.status_code == 200 and again.json()["created"] is False
        assert again.json()["event_id"] == first.json()["event_id"]
        assert again.json()["contact_id"] == first.json()["contact_id"]
        cid = _dm_contact(engine, conv)
        manager = make_client("manager@acme.test")
        r = manager.post(f"/w/{conv.slug}/inbox/{cid}/sale",
                         data={**_sale_form(manager, conv, cid), "order_id": "A-1"},
                         follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("done=sale-known")
        assert "already recorded" in manager.get(r.headers["location"]).text
        [sale] = _sales(engine)
        assert (sale.source, sale.external_id, sale.amount_cents) == ("shop", "A-1", 3000)
        with session_scope(engine) as s:
            # the API's phone joined the buyer; no second contact for it
            phones = s.exec(select(ContactIdentity).where(ContactIdentity.kind == "phone")).all()
            assert [p.contact_id for p in phones] == [sale.contact_id]
            assert len(s.exec(select(Contact)).all()) == 2  # the buyer and the DM contact

    def test_inbox_first_then_the_shop_joins_the_buyer(self, engine, conv, client, make_client):
        cid = _dm_contact(engine, conv)
        manager = make_client("manager@acme.test")
        r = manager.post(f"/w/{conv.slug}/inbox/{cid}/sale",
                         data={**_sale_form(manager, conv, cid), "order_id": "Z-9"},
                         follow_redirects=False)
        assert r.headers["location"].endswith("done=sale")
        shop = _shop(client, engine, conv, {"order_id": "Z-9", "amount": "30", "currency": "EUR",
                                            "email": "buyer@acme.test"}, "msg-2")
        assert shop.status_code == 200 and shop.json() == {
            "contact_id": cid, "contact_created": False, "event_id": _sales(engine)[0].id,
            "created": False}
        with session_scope(engine) as s:
            assert len(s.exec(select(Contact)).all()) == 1
            assert s.get(Contact, cid).email == "buyer@acme.test"
        assert len(_sales(engine)) == 1

    def test_the_shop_and_the_api_race_for_one_order(self, engine, conv):
        """Two transactions both miss the other's sale: the unique constraint keeps one."""
        from planner.conversions import contacts

        with session_scope(engine) as s:
            a, _ = contacts.identify(session=s, workspace_id=conv.workspace_id, source="shop",
                                     identities={"email": "a@acme.test"})
            b, _ = contacts.identify(session=s, workspace_id=conv.workspace_id, source="api",
                                     identities={"email": "b@acme.test"})
            one = contacts.record_event(session=s, contact=a, kind=EventKind.sale,
                                        source="shop", external_id="R-1", amount_cents=100,
                                        currency="EUR")
            two = contacts.record_event(session=s, contact=b, kind=EventKind.sale,
                                        source="api", external_id="R-1", amount_cents=100,
                                        currency="EUR")
            assert one.created and not two.created and two.event.id == one.event.id
            with pytest.raises(IntegrityError), s.begin_nested():
                s.add(ConversionEvent(workspace_id=conv.workspace_id, contact_id=b.id,
                                      kind=EventKind.sale, source="inbox", external_id="R-1",
                                      amount_cents=100, currency="EUR"))
        assert len(_sales(engine)) == 1

    def test_the_same_id_on_a_qualified_event_is_another_event(self, engine, conv, client):
        assert _api(client, conv, {"type": "qualified", "external_id": "7",
                                   "email": "q@acme.test"}).status_code == 201
        assert _api(client, conv, {"type": "sale", "order_id": "7", "amount": "1",
                                   "currency": "EUR", "email": "q@acme.test"}).status_code == 201

    def test_other_workspaces_have_their_own_order_ids(self, engine, conv):
        from planner.conversions import contacts

        with session_scope(engine) as s:
            for ws in (conv.workspace_id, conv.other_workspace_id):
                c, _ = contacts.identify(session=s, workspace_id=ws, source="shop",
                                         identities={"email": "x@acme.test"})
                assert contacts.record_event(session=s, contact=c, kind=EventKind.sale,
                                             source="shop", external_id="O-1",
                                             amount_cents=1, currency="EUR").created
        assert len(_sales(engine)) == 2


class TestInboxRecordSale:
    def test_without_an_order_id_a_resubmitted_form_is_one_sale(self, engine, conv,
                                                                make_client):
        cid = _dm_contact(engine, conv)
        manager = make_client("manager@acme.test")
        form = _sale_form(manager, conv, cid)
        for expected in ("done=sale", "done=sale-known"):  # a double click, a reload
            r = manager.post(f"/w/{conv.slug}/inbox/{cid}/sale", data=form,
                             follow_redirects=False)
            assert r.headers["location"].endswith(expected)
        [sale] = _sales(engine)
        assert sale.external_id == f"inbox-{cid}-{form['sale_key']}"
        # the page shown again is a new form: a second sale of the same amount is recorded
        r = manager.post(f"/w/{conv.slug}/inbox/{cid}/sale",
                         data=_sale_form(manager, conv, cid), follow_redirects=False)
        assert r.headers["location"].endswith("done=sale")
        assert len(_sales(engine)) == 2

    def test_no_order_id_and_no_form_key_is_refused(self, engine, conv, make_client):
        cid = _dm_contact(engine, conv)
        manager = make_client("manager@acme.test")
        form = {**_sale_form(manager, conv, cid), "sale_key": ""}
        r = manager.post(f"/w/{conv.slug}/inbox/{cid}/sale", data=form,
                         headers={"Accept": "application/json"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "order_id"
        assert _sales(engine) == []

    def test_the_services_refuse_a_sale_without_order_id(self, engine, conv):
        from planner.conversions import contacts
        from planner.errors import Invalid

        with session_scope(engine) as s:
            c, _ = contacts.identify(session=s, workspace_id=conv.workspace_id, source="shop",
                                     identities={"email": "n@acme.test"})
            with pytest.raises(Invalid):
                contacts.record_event(session=s, contact=c, kind=EventKind.sale,
                                      source="inbox", amount_cents=1, currency="EUR")
