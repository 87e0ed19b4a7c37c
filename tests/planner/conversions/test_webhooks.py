"""Inbound webhooks: the shop's Standard Webhooks and Meta messaging, signatures and idempotency."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from sqlmodel import select

from planner.conversions import webhooks
from planner.db import session_scope
from planner.models_conversions import (
    Contact,
    ContactStatus,
    ConversionEvent,
    EventKind,
    Message,
    Touchpoint,
)
from publishers.webhook import sign

APP_SECRET = "meta-app-secret"


def _shop_secret(engine, conv) -> str:
    with session_scope(engine) as s:
        return webhooks.shop_secret(s, conv.workspace_id)


def _shop_post(client, conv, secret, body: dict, *, msg_id="msg_1", stamp=None,
               signature=None, headers=None):
    raw = json.dumps(body)
    stamp = int(time.time()) if stamp is None else stamp
    sent = {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": signature or sign(secret, msg_id, stamp, raw),
            "content-type": "application/json"}
    if headers is not None:
        sent = headers
    return client.post(f"/hooks/{conv.slug}/shop", content=raw, headers=sent)


SALE = {"type": "sale", "data": {"order_id": "A-100", "amount": "49.90", "currency": "eur",
                                 "email": "Ola@Example.com"}}


def _events(engine, kind=None):
    with session_scope(engine) as s:
        q = select(ConversionEvent)
        if kind:
            q = q.where(ConversionEvent.kind == kind)
        return list(s.exec(q).all())


class TestShopWebhook:
    def test_a_signed_sale_creates_the_contact_and_the_sale(self, engine, conv, client):
        r = _shop_post(client, conv, _shop_secret(engine, conv), SALE)
        assert r.status_code == 201, r.text
        assert r.json()["contact_created"] is True
        [sale] = _events(engine, EventKind.sale)
        assert (sale.amount_cents, sale.currency, sale.external_id) == (4990, "EUR", "A-100")
        with session_scope(engine) as s:
            contact = s.get(Contact, sale.contact_id)
            assert contact.email == "ola@example.com" and contact.status == ContactStatus.won

    def test_the_same_order_twice_is_one_sale(self, engine, conv, client):
        secret = _shop_secret(engine, conv)
        assert _shop_post(client, conv, secret, SALE, msg_id="m1").status_code == 201
        again = _shop_post(client, conv, secret, SALE, msg_id="m2")
        assert again.status_code == 200 and again.json()["created"] is False
        assert len(_events(engine, EventKind.sale)) == 1

    @pytest.mark.parametrize("case", ["bad", "missing", "old", "other-secret"])
    def test_refuses_bad_missing_and_replayed_signatures(self, engine, conv, client, case):
        secret = _shop_secret(engine, conv)
        if case == "bad":
            r = _shop_post(client, conv, secret, SALE, signature="v1,AAAA")
        elif case == "missing":
            r = _shop_post(client, conv, secret, SALE,
                           headers={"content-type": "application/json"})
        elif case == "old":
            r = _shop_post(client, conv, secret, SALE, stamp=int(time.time()) - 3600)
        else:
            r = _shop_post(client, conv, "whsec_" + "b3RoZXJzZWNyZXQx" * 2, SALE)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert _events(engine) == []

    def test_invalid_event_is_422(self, engine, conv, client):
        r = _shop_post(client, conv, _shop_secret(engine, conv),
                       {"type": "sale", "data": {"amount": "x", "currency": "EUR",
                                                 "order_id": "1", "email": "a@b.test"}})
        assert r.status_code == 422

    def test_visitor_and_email_of_two_contacts_merge_them(self, engine, conv, client):
        secret = _shop_secret(engine, conv)
        _shop_post(client, conv, secret, {"type": "contact",
                                          "data": {"visitor_id": "v" * 22}}, msg_id="a")
        _shop_post(client, conv, secret, {"type": "contact",
                                          "data": {"email": "x@y.test"}}, msg_id="b")
        r = _shop_post(client, conv, secret, {"type": "qualified", "data": {
            "visitor_id": "v" * 22, "email": "x@y.test"}}, msg_id="c")
        assert r.status_code == 201
        with session_scope(engine) as s:
            assert len(s.exec(select(Contact)).all()) == 1
        assert len(_events(engine, EventKind.contact)) == 1

    def test_names_alone_never_join_contacts(self, engine, conv, client):
        secret = _shop_secret(engine, conv)
        for i, email in enumerate(("a@x.test", "b@x.test")):
            _shop_post(client, conv, secret, {"type": "contact", "data": {
                "email": email, "name": "Ola Nowak"}}, msg_id=f"n{i}")
        with session_scope(engine) as s:
            assert len(s.exec(select(Contact)).all()) == 2


def _meta_body(conv, text="Hi, GLOW please", ref=None, mid="m_1", sender="PSID-1"):
    event = {"sender": {"id": sender}, "recipient": {"id": "17841400000"},
             "timestamp": int(time.time() * 1000)}
    if text is not None:
        event["message"] = {"mid": mid, "text": text}
    if ref is not None:
        event["referral"] = {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
    return json.dumps({"object": "instagram",
                       "entry": [{"id": "17841400000", "time": 1, "messaging": [event]}]})


def _meta_post(client, conv, body: str, secret=APP_SECRET, header=None):
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json",
               "x-hub-signature-256": header if header is not None else f"sha256={digest}"}
    return client.post(f"/hooks/{conv.slug}/meta", content=body, headers=headers)


@pytest.fixture
def meta(engine, conv):
    with session_scope(engine) as s:
        webhooks.set_meta(session=s, workspace_id=conv.workspace_id, verify_token="tok-123",
                          app_secret=APP_SECRET)
    return conv


class TestMetaWebhook:
    def test_subscription_check_echoes_the_challenge(self, client, meta):
        r = client.get(f"/hooks/{meta.slug}/meta", params={
            "hub.mode": "subscribe", "hub.verify_token": "tok-123", "hub.challenge": "42abc"})
        assert r.status_code == 200 and r.text == "42abc"
        bad = client.get(f"/hooks/{meta.slug}/meta", params={
            "hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42abc"})
        assert bad.status_code == 403

    def test_a_keyword_dm_becomes_a_contact_with_a_touchpoint(self, engine, client, meta):
        r = _meta_post(client, meta, _meta_body(meta))
        assert r.status_code == 200 and r.json() == {"received": 1}
        with session_scope(engine) as s:
            [tp] = s.exec(select(Touchpoint)).all()
            [msg] = s.exec(select(Message)).all()
        assert (tp.kind, tp.account_id, tp.publication_id) == ("dm", meta.ig, meta.pub["ig-try"])
        assert msg.text == "Hi, GLOW please" and msg.direction == "in"
        assert len(_events(engine, EventKind.contact)) == 1

    def test_a_redelivered_message_is_stored_once(self, engine, client, meta):
        _meta_post(client, meta, _meta_body(meta))
        _meta_post(client, meta, _meta_body(meta))
        with session_scope(engine) as s:
            assert len(s.exec(select(Message)).all()) == 1

    def test_a_referral_ref_attributes_to_the_post(self, engine, client, meta):
        r = _meta_post(client, meta, _meta_body(meta, text=None,
                                                 ref=f"GLOW_{meta.p_try}"))
        assert r.json() == {"received": 1}
        with session_scope(engine) as s:
            [tp] = s.exec(select(Touchpoint)).all()
        assert tp.post_id == meta.p_try

    @pytest.mark.parametrize("header", ["", "sha256=00", "sha1=abc"])
    def test_refuses_bad_signatures(self, engine, client, meta, header):
        r = _meta_post(client, meta, _meta_body(meta), header=header)
        assert r.status_code == 401
        with session_scope(engine) as s:
            assert s.exec(select(Message)).all() == []

    def test_unconfigured_app_secret_refuses_everything(self, engine, client, conv):
        r = _meta_post(client, conv, _meta_body(conv))
        assert r.status_code == 401


def test_a_shop_sale_with_the_landing_visitor_id_is_credited_to_the_click(engine, conv, client):
    """Click -> landing URL carries poise_vid -> the shop sends it with the order."""
    from datetime import UTC, datetime, timedelta
    from urllib.parse import parse_qs, urlsplit

    from planner.conversions import attribution, links
    from planner.models import Publication

    with session_scope(engine) as s:
        short = links.tracked_link_for(s, s.get(Publication, conv.pub["x-try"]),
                                       "https://shop.acme.test/glow")
    r = client.get(urlsplit(short).path, headers={"User-Agent": "Mozilla/5.0 Firefox/130"},
                   follow_redirects=False)
    vid = parse_qs(urlsplit(r.headers["location"]).query)["poise_vid"][0]
    sale = {"type": "sale", "data": {"order_id": "W-1", "amount": "20", "currency": "EUR",
                                     "visitor_id": vid, "email": "new@buyer.test"}}
    assert _shop_post(client, conv, _shop_secret(engine, conv), sale).status_code == 201
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        report = attribution.report(session=s, workspace_id=conv.workspace_id,
                                    start=now - timedelta(days=1), end=now + timedelta(days=1))
    for model in attribution.MODELS:
        rows = {k: f for k, _, f in report.rows(model, "channel")}
        assert (rows[str(conv.x)].sessions, rows[str(conv.x)].contacts,
                rows[str(conv.x)].sales) == (1, 1, 1)


class TestHookAnswersTellNothing:
    def test_unknown_slug_answers_like_a_bad_signature(self, client, conv, engine):
        secret = _shop_secret(engine, conv)
        bad = _shop_post(client, conv, secret, SALE, signature="v1,AAAA")
        stamp = int(time.time())
        unknown = client.post("/hooks/no-such-workspace/shop", content=json.dumps(SALE),
                              headers={"webhook-id": "m", "webhook-timestamp": str(stamp),
                                       "webhook-signature": sign(secret, "m", stamp,
                                                                 json.dumps(SALE)),
                                       "content-type": "application/json"})
        assert (bad.status_code, bad.json()) == (unknown.status_code, unknown.json())
        meta_bad = client.post(f"/hooks/{conv.slug}/meta", content=b"{}")
        meta_unknown = client.post("/hooks/no-such-workspace/meta", content=b"{}")
        assert (meta_bad.status_code, meta_bad.json()) == (meta_unknown.status_code,
                                                           meta_unknown.json())

    def test_signed_invalid_utf8_is_a_400_not_a_500(self, client, conv, engine):
        secret = _shop_secret(engine, conv)
        raw = b'{"type": "sale", "data": {"order_id": "\xff\xfe"}}'
        stamp = int(time.time())
        r = client.post(f"/hooks/{conv.slug}/shop", content=raw, headers={
            "webhook-id": "m", "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, "m", stamp, raw),
            "content-type": "application/json"})
        assert r.status_code == 400
