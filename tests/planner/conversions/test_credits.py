"""Stored first/last touch: kept equal to a from-scratch computation whatever happens, in
whatever order (clicks, DMs, visitors identified late, contacts merged, back-dated sales)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from planner.conversions import attribution, contacts, credits, inbox, links, webhooks
from planner.db import session_scope
from planner.models import Account, Publication
from planner.models_conversions import ConversionEvent, EventKind, Touchpoint
from tests.planner.conversions.conftest import NOV

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0"
VISITORS = [f"visitor-{n:02d}-abcdefghij" for n in range(3)]
EMAILS = ["ola@acme.test", "jan@acme.test"]
LINKS = ["x-try", "ig-two", "masto-care"]


def expected_credits(session, workspace_id: int) -> dict[int, tuple]:
    """Per event: (first touch, first account, first post, last touch, last account, last
    post), computed in Python from the touchpoints as they are now."""
    touches = session.exec(select(Touchpoint).where(
        Touchpoint.workspace_id == workspace_id)).all()
    out = {}
    for event in session.exec(select(ConversionEvent).where(
            ConversionEvent.workspace_id == workspace_id)).all():
        mine = sorted((t for t in touches
                       if t.contact_id == event.contact_id and t.at <= event.at),
                      key=lambda t: (t.at, t.id))
        first, last = (mine[0], mine[-1]) if mine else (None, None)
        out[event.id] = tuple(
            v for t in (first, last)
            for v in ((t.id, t.account_id, t.post_id) if t else (None, None, None)))
    return out


def stored_credits(session, workspace_id: int) -> dict[int, tuple]:
    return {e.id: (e.first_touch_id, e.first_account_id, e.first_post_id, e.last_touch_id,
                   e.last_account_id, e.last_post_id)
            for e in session.exec(select(ConversionEvent).where(
                ConversionEvent.workspace_id == workspace_id)).all()}


step = st.one_of(
    st.tuples(st.just("click"), st.sampled_from(LINKS), st.sampled_from(VISITORS)),
    st.tuples(st.just("identify"), st.sampled_from(VISITORS), st.sampled_from(EMAILS)),
    st.tuples(st.just("dm"), st.sampled_from(["x", "ig"]), st.sampled_from(["GLOW", "hi"])),
    st.tuples(st.just("sale"), st.sampled_from(VISITORS + EMAILS), st.integers(-3, 4)),
    st.tuples(st.just("qualify"), st.sampled_from(EMAILS), st.just(0)),
)


def apply(engine, conv, n: int, op: tuple, at) -> None:
    kind, a, b = op
    if kind == "click":
        with session_scope(engine) as s:
            url = links.tracked_link_for(s, s.get(Publication, conv.pub[a]),
                                         "https://shop.acme.test/p")
        links.follow(engine, code=url.rsplit("/", 1)[1], visitor_id=b, user_agent=BROWSER,
                     referrer=None, now=at)
        return
    with session_scope(engine) as s:
        if kind == "identify":
            contacts.identify(session=s, workspace_id=conv.workspace_id, source="shop", now=at,
                              identities={"visitor": a, "email": b})
        elif kind == "dm":
            inbox.record_dm(session=s, account=s.get(Account, getattr(conv, a)),
                            sender_id="PSID-7", text=b, at=at, auto_reply=False)
        elif kind == "sale":
            # b hours back-dated (the shop reports a sale late), or ahead (its clock is ahead
            # of ours: clicks recorded after it are still before it).
            who = {"visitor_id": a} if a.startswith("visitor") else {"email": a}
            webhooks.record_shop_event(
                session=s, workspace_id=conv.workspace_id, source="shop", kind="sale",
                data={**who, "order_id": f"O-{n}", "amount": "10", "currency": "EUR",
                      "at": (at - timedelta(hours=b)).isoformat()})
        else:
            contact, _ = contacts.identify(session=s, workspace_id=conv.workspace_id,
                                           source="shop", now=at, identities={"email": a})
            contacts.set_status(session=s, contact=contact, status="qualified", actor_id=None,
                                now=at)


@pytest.fixture
def prop_db(engine, conv):
    return engine, conv


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(step, min_size=1, max_size=14))
def test_stored_credits_equal_a_from_scratch_computation(prop_db, ops):
    engine, conv = prop_db
    with session_scope(engine) as s:
        for table in (Touchpoint, ConversionEvent):
            s.execute(table.__table__.delete())
        from planner.models_conversions import Contact, ContactIdentity, ContactMerge, Message

        for table in (Message, ContactIdentity, ContactMerge, Contact):
            s.execute(table.__table__.delete())
    for n, op in enumerate(ops):
        apply(engine, conv, n, op, NOV + timedelta(hours=2 * n))
    with session_scope(engine) as s:
        assert stored_credits(s, conv.workspace_id) == expected_credits(s, conv.workspace_id)


def test_a_late_identified_visitor_moves_the_credit_to_its_clicks(engine, conv):
    """A shop contact first (no touch: unattributed), then the visitor id it clicked with
    turns up on its next order: the earlier clicks join it and its events are re-credited."""
    ws, vid = conv.workspace_id, VISITORS[0]
    with session_scope(engine) as s:
        url = links.tracked_link_for(s, s.get(Publication, conv.pub["x-try"]), "https://s.t/a")
    links.follow(engine, code=url.rsplit("/", 1)[1], visitor_id=vid, user_agent=BROWSER,
                 referrer=None, now=NOV)
    with session_scope(engine) as s:
        webhooks.record_shop_event(session=s, workspace_id=ws, source="shop", kind="sale",
                                   data={"email": EMAILS[0], "order_id": "A", "amount": "5",
                                         "currency": "EUR",
                                         "at": (NOV + timedelta(hours=1)).isoformat()})
    with session_scope(engine) as s:
        [sale] = s.exec(select(ConversionEvent).where(ConversionEvent.kind == "sale")).all()
        assert sale.first_touch_id is None and sale.last_account_id is None
        contacts.identify(session=s, workspace_id=ws, source="shop",
                          identities={"email": EMAILS[0], "visitor": vid},
                          now=NOV + timedelta(hours=2))
    with session_scope(engine) as s:
        sale = s.exec(select(ConversionEvent).where(ConversionEvent.kind == "sale")).one()
        assert (sale.first_account_id, sale.last_account_id) == (conv.x, conv.x)
        report = attribution.report(session=s, workspace_id=ws, start=NOV,
                                    end=NOV + timedelta(days=1))
        assert {k: f.sales for k, _, f in report.rows("first", "channel")} == {str(conv.x): 1}


def test_refresh_backfills_a_workspace(engine, conv):
    with session_scope(engine) as s:
        contact, _ = contacts.identify(session=s, workspace_id=conv.workspace_id,
                                       source="shop", identities={"email": EMAILS[0]}, now=NOV)
        s.add(Touchpoint(workspace_id=conv.workspace_id, kind="session", at=NOV,
                         contact_id=contact.id, account_id=conv.ig, post_id=conv.p_two))
        s.flush()
        assert credits.refresh(s, workspace_id=conv.workspace_id) == 1
        assert stored_credits(s, conv.workspace_id) == expected_credits(s, conv.workspace_id)
        event = s.exec(select(ConversionEvent)).one()
        assert event.kind == EventKind.contact and event.first_account_id == conv.ig
