"""The inbox services: keyword matching, X DM polling and replies against a loopback fake,
auto-replies with a per-contact limit, and the pages with their role checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select
from webhelpers import page_csrf

from planner.conversions import inbox, replies
from planner.db import session_scope
from planner.models import Account, Post
from planner.models_conversions import (
    Contact,
    ContactStatus,
    ConversionEvent,
    EventKind,
    Message,
    Touchpoint,
)


class FakeDMs:
    """A loopback stand-in for X's DM endpoints and the Graph Send API."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.sent: list[tuple[str, dict]] = []
        self.gets: list[str] = []
        self.fail_gets = 0
        self.on_send = None  # called before answering a send (a test looks at the database)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                fake.gets.append(self.path)
                if fake.fail_gets:
                    return self._reply(fake.fail_gets, {"title": "Forbidden"})
                if self.path.startswith("/2/dm_events"):
                    return self._reply(200, {"data": fake.events,
                                             "meta": {"result_count": len(fake.events)}})
                return self._reply(404, {"title": "Not Found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"{}")
                fake.sent.append((self.path, body))
                if fake.on_send is not None:
                    fake.on_send()
                if self.path.startswith("/2/dm_conversations/with/"):
                    return self._reply(201, {"data": {"dm_conversation_id": "c-1",
                                                      "dm_event_id": f"out-{len(fake.sent)}"}})
                if "/messages" in self.path:
                    return self._reply(200, {"recipient_id": body["recipient"]["id"],
                                             "message_id": f"mid.{len(fake.sent)}"})
                return self._reply(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake(engine, conv) -> Iterator[FakeDMs]:
    f = FakeDMs()
    with session_scope(engine) as s:
        for account_id in (conv.x, conv.ig):
            s.get(Account, account_id).api_base = f.base
    yield f
    f.server.shutdown()


def _dm(engine, conv, text, sender="u-1", account="x", remote_id=None, at=None, **kw):
    """A DM recorded as the webhook and the X poll do: committed, then its auto-reply sent
    with no transaction open and the outcome written in a second one."""
    with session_scope(engine) as s:
        account = s.get(Account, getattr(conv, account))
        result = inbox.record_dm(session=s, account=account, sender_id=sender, text=text,
                                 remote_id=remote_id, at=at, **kw)
        pending = replies.auto_replies_of(s, [result])
    replies.send_auto_replies(pending, lambda write: _write(engine, write))
    return result.publication.id if result.publication else None, result


def _write(engine, write):
    with session_scope(engine) as s:
        write(s)


def _send(engine, contact_id, account_id, text):
    """A person's reply the way the Inbox sends it: pending, committed, sent, recorded."""
    with session_scope(engine) as s:
        message, out = replies.queue_reply(
            session=s, contact=s.get(Contact, contact_id),
            account=s.get(Account, account_id) if account_id else None, text=text,
            author_id=None)
        text = message.text
    outcome = replies.deliver(out, text)
    with session_scope(engine) as s:
        return replies.record_outcome(session=s, message_id=out.message_id, outcome=outcome)


class TestKeywordMatching:
    @pytest.mark.parametrize("text,matches", [
        ("GLOW", True), ("glow please!", True), ("I want the Glow.", True),
        ("glowing skin", False), ("aglow", False), ("G L O W", False)])
    def test_whole_word_case_insensitive(self, text, matches):
        assert inbox.keyword_matches("GLOW", text) is matches

    def test_attributed_to_the_most_recent_publication_on_that_account(self, engine, conv):
        with session_scope(engine) as s:
            newer = Post(workspace_id=conv.workspace_id, text="again", tags="care",
                         dm_keyword="glow", status="approved")
            s.add(newer)
            s.flush()
            from planner.models import Publication

            pub = Publication(post_id=newer.id, account_id=conv.x,
                              workspace_id=conv.workspace_id, status="published",
                              published_at=datetime(2026, 11, 1, tzinfo=UTC))
            s.add(pub)
            s.flush()
            newest = pub.id
        assert _dm(engine, conv, "glow")[0] == newest

    def test_a_dm_without_keyword_is_stored_without_a_prompt(self, engine, conv):
        pub, result = _dm(engine, conv, "hello there")
        assert pub is None and result.message.post_id is None
        # the very first DM of an unknown person still marks the channel they came from
        assert result.touchpoint is not None and result.touchpoint.account_id == conv.x

    def test_keywords_of_other_workspaces_never_match(self, engine, conv):
        with session_scope(engine) as s:
            other = s.exec(select(Account).where(
                Account.workspace_id == conv.other_workspace_id)).first()
            result = inbox.record_dm(session=s, account=other, sender_id="z", text="GLOW")
            assert result.publication.id == conv.other_pub


class TestPollX:
    def test_new_events_become_messages_once(self, engine, conv, fake):
        fake.events = [
            {"id": "9001", "event_type": "MessageCreate", "text": "GLOW please",
             "sender_id": "555", "created_at": "2026-11-20T10:00:00.000Z",
             "dm_conversation_id": "1000-555"},
            {"id": "9002", "event_type": "MessageCreate", "text": "our own answer",
             "sender_id": "1000", "created_at": "2026-11-20T10:01:00.000Z"}]
        with session_scope(engine) as s:
            account = s.get(Account, conv.x)
            got = inbox.record_x_dms(s, account, inbox.fetch_x_dms(account))
            assert [r.message.text for r in got] == ["GLOW please"]
            assert got[0].publication.id == conv.pub["x-try"]
        with session_scope(engine) as s:
            account = s.get(Account, conv.x)
            assert inbox.record_x_dms(s, account, inbox.fetch_x_dms(account)) == []
            assert len(s.exec(select(Message)).all()) == 1


class TestReplies:
    def test_x_reply_goes_through_the_dm_api(self, engine, conv, fake):
        _, result = _dm(engine, conv, "hi", sender="555")
        msg = _send(engine, result.contact.id, conv.x, "Hello!")
        assert msg.delivery == "sent" and msg.remote_id == "out-1"
        with session_scope(engine) as s:
            assert s.get(Contact, result.contact.id).status == ContactStatus.talking
        assert fake.sent == [("/2/dm_conversations/with/555/messages", {"text": "Hello!"})]

    def test_instagram_reply_goes_through_the_graph_send_api(self, engine, conv, fake):
        _, result = _dm(engine, conv, "hi", sender="IGSID-9", account="ig")
        msg = _send(engine, result.contact.id, conv.ig, "Hej")
        assert msg.delivery == "sent"
        path, body = fake.sent[0]
        # Sent by the linked Page (its token stands for it as "me"), not the IG account id.
        assert path.startswith("/v25.0/me/messages")
        assert body["recipient"] == {"id": "IGSID-9"} and body["message"] == {"text": "Hej"}

    def test_platform_without_dm_api_keeps_a_note(self, engine, conv):
        _, result = _dm(engine, conv, "hi")
        msg = _send(engine, result.contact.id, conv.masto, "See you")
        assert msg.delivery == "note" and "no DM API" in msg.error

    def test_a_failed_send_is_stored_with_its_error(self, engine, conv):
        _, result = _dm(engine, conv, "hi", sender="555")
        with session_scope(engine) as s:
            s.get(Account, conv.x).api_base = "http://127.0.0.1:9"  # nothing listens
        msg = _send(engine, result.contact.id, conv.x, "Hello")
        assert msg.delivery == "failed" and msg.error


class TestAutoReply:
    def test_answers_once_per_contact_and_prompt_per_day(self, engine, conv, fake):
        with session_scope(engine) as s:
            inbox.set_auto_reply(session=s, post=s.get(Post, conv.p_try), enabled=True)
        t0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
        _, first = _dm(engine, conv, "GLOW", sender="555", remote_id="a", at=t0)
        _, second = _dm(engine, conv, "glow again", sender="555", remote_id="b",
                        at=t0 + timedelta(hours=2))
        _, third = _dm(engine, conv, "GLOW", sender="555", remote_id="c",
                       at=t0 + timedelta(hours=25))
        _, other = _dm(engine, conv, "GLOW", sender="777", remote_id="d",
                       at=t0 + timedelta(hours=2))
        assert first.auto_reply is not None and "/r/" in first.auto_reply.text
        assert second.auto_reply is None
        assert third.auto_reply is not None and other.auto_reply is not None
        assert len(fake.sent) == 3

    def test_at_most_one_per_contact_per_cooldown_across_prompts(self, engine, conv, fake):
        """Two prompts with auto-replies: someone answering both within the cooldown gets one
        automatic message, not one per prompt."""
        from planner.models import Publication

        with session_scope(engine) as s:
            serum = Post(workspace_id=conv.workspace_id, text="Serum", tags="care",
                         dm_keyword="SERUM", dm_product_url="https://shop.acme.test/serum",
                         status="approved")
            s.add(serum)
            s.flush()
            s.add(Publication(post_id=serum.id, account_id=conv.x,
                              workspace_id=conv.workspace_id, status="published",
                              published_at=datetime(2026, 11, 1, tzinfo=UTC)))
            for post in (s.get(Post, conv.p_try), serum):
                inbox.set_auto_reply(session=s, post=post, enabled=True)
            inbox.settings_for(s, conv.workspace_id).auto_reply_cooldown_hours = 12
        t0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
        _, glow = _dm(engine, conv, "GLOW", sender="555", remote_id="a", at=t0)
        _, serum_soon = _dm(engine, conv, "SERUM please", sender="555", remote_id="b",
                            at=t0 + timedelta(hours=11))
        _, serum_later = _dm(engine, conv, "SERUM please", sender="555", remote_id="c",
                             at=t0 + timedelta(hours=13))
        assert glow.auto_reply is not None
        assert serum_soon.publication is not None and serum_soon.auto_reply is None
        assert serum_later.auto_reply is not None and "/r/" in serum_later.auto_reply.text
        assert len(fake.sent) == 2
        with session_scope(engine) as s:
            autos = s.exec(select(Message).where(Message.kind == "auto")).all()
            assert sorted(m.post_id for m in autos) == sorted([conv.p_try,
                                                               serum_later.publication.post_id])

    def test_off_by_default(self, engine, conv, fake):
        _, result = _dm(engine, conv, "GLOW", sender="555")
        assert result.auto_reply is None and fake.sent == []


class TestInboxPages:
    def test_viewer_sees_the_conversation_but_cannot_act(self, engine, conv, make_client):
        _, result = _dm(engine, conv, "GLOW please", sender="555")
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/w/{conv.slug}/inbox")
        assert page.status_code == 200 and "GLOW please" in page.text and "GLOW" in page.text
        detail = viewer.get(f"/w/{conv.slug}/inbox/{result.contact.id}")
        assert detail.status_code == 200 and "Viewers read only" in detail.text
        token = page_csrf(viewer, f"/w/{conv.slug}/inbox")
        r = viewer.post(f"/w/{conv.slug}/inbox/{result.contact.id}/status",
                        data={"status": "qualified", "csrf_token": token})
        assert r.status_code == 403

    def test_manager_qualifies_assigns_and_records_a_sale(self, engine, conv, make_client):
        _, result = _dm(engine, conv, "GLOW please", sender="555")
        cid = result.contact.id
        manager = make_client("manager@acme.test")
        token = page_csrf(manager, f"/w/{conv.slug}/inbox/{cid}")
        base = f"/w/{conv.slug}/inbox/{cid}"
        assert manager.post(f"{base}/status", data={"status": "qualified", "csrf_token": token},
                            follow_redirects=False).status_code == 303
        assert manager.post(f"{base}/assign", data={"assignee_id": conv.manager_id,
                                                   "csrf_token": token},
                            follow_redirects=False).status_code == 303
        assert manager.post(f"{base}/sale", data={"amount": "19.99", "currency": "pln",
                                                 "order_id": "Z1", "csrf_token": token},
                            follow_redirects=False).status_code == 303
        with session_scope(engine) as s:
            contact = s.get(Contact, cid)
            assert contact.status == ContactStatus.won and contact.assignee_id == conv.manager_id
            kinds = sorted(e.kind for e in s.exec(select(ConversionEvent)).all())
        assert kinds == [EventKind.contact, EventKind.qualified, EventKind.sale]
        assert "19.99 PLN" in manager.get(base).text

    def test_the_nav_badge_counts_new_contacts(self, engine, conv, make_client):
        import re

        def badge(client) -> str | None:
            page = client.get(f"/w/{conv.slug}/calendar").text
            found = re.search(rf'href="/w/{conv.slug}/inbox"[^>]*>Inbox'
                              r'(?: <span class="badge"[^>]*>(\d+)</span>)?</a>', page)
            assert found, "the main navigation links the Inbox"
            return found.group(1)

        viewer = make_client("viewer@acme.test")
        assert badge(viewer) is None
        _, one = _dm(engine, conv, "GLOW", sender="555")
        _dm(engine, conv, "hello", sender="556")
        _dm(engine, conv, "again", sender="555")  # the same person: still one
        _dm(engine, conv, "GLOW", sender="557", account="ig")
        with session_scope(engine) as s:
            other = s.exec(select(Account).where(
                Account.workspace_id == conv.other_workspace_id)).first()
            inbox.record_dm(session=s, account=other, sender_id="z", text="GLOW")
            assert inbox.count_new(s, conv.workspace_id) == 3
        assert badge(viewer) == "3"
        manager = make_client("manager@acme.test")
        token = page_csrf(manager, f"/w/{conv.slug}/inbox")
        manager.post(f"/w/{conv.slug}/inbox/{one.contact.id}/status",
                     data={"status": "talking", "csrf_token": token})
        assert badge(viewer) == "2"

    def test_csrf_is_required(self, engine, conv, make_client):
        _, result = _dm(engine, conv, "GLOW", sender="555")
        manager = make_client("manager@acme.test")
        r = manager.post(f"/w/{conv.slug}/inbox/{result.contact.id}/status",
                         data={"status": "qualified"})
        assert r.status_code == 403

    def test_other_workspaces_contacts_are_404(self, engine, conv, make_client):
        _, result = _dm(engine, conv, "GLOW", sender="555")
        stranger = make_client("admin@other.test")
        assert stranger.get(f"/w/{conv.slug}/inbox").status_code == 404
        from planner.models import Workspace

        with session_scope(engine) as s:
            other_slug = s.get(Workspace, conv.other_workspace_id).slug
        assert stranger.get(f"/w/{other_slug}/inbox/{result.contact.id}").status_code == 404

    def test_csv_import(self, engine, conv, make_client):
        manager = make_client("manager@acme.test")
        token = page_csrf(manager, f"/w/{conv.slug}/inbox")
        data = "name,email,phone\nOla,ola@x.test,+48 600 100 200\nBad,not-an-email,\n"
        r = manager.post(f"/w/{conv.slug}/inbox/import", data={"csrf_token": token},
                         files={"file": ("c.csv", data, "text/csv")})
        assert r.status_code == 200 and "1 new" in r.text and "1 rows skipped" in r.text
        with session_scope(engine) as s:
            [c] = s.exec(select(Contact)).all()
            assert (c.email, c.phone) == ("ola@x.test", "+48600100200")
            assert s.exec(select(Touchpoint)).all() == []


class TestPollJob:
    @pytest.fixture(autouse=True)
    def _one_x_account_on_the_fake(self, engine, conv, fake):
        # Only conv.x is polled: other X accounts are paused (and never reach the internet).
        with session_scope(engine) as s:
            for account in s.exec(select(Account).where(Account.platform == "x")):
                account.api_base = fake.base
                if account.id != conv.x:
                    account.status = "paused"

    EVENT = {"id": "9101", "event_type": "MessageCreate", "text": "GLOW please",
             "sender_id": "777", "created_at": "2026-11-20T10:00:00.000Z"}

    def test_due_x_accounts_are_polled_once_per_interval(self, engine, conv, fake):
        from planner.conversions import dm_poll

        fake.events = [self.EVENT]
        now = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)
        assert dm_poll.poll_due(engine, interval_seconds=60, now=now) == 1
        polls = lambda: sum(1 for _ in fake.gets)  # noqa: E731
        before = polls()
        # a second worker in the same interval does not call X again
        assert dm_poll.poll_due(engine, interval_seconds=60,
                                now=now + timedelta(seconds=30)) == 0
        assert polls() == before
        # the next interval polls again; the known event is not stored twice
        assert dm_poll.poll_due(engine, interval_seconds=60,
                                now=now + timedelta(seconds=61)) == 0
        assert polls() == before + 1
        with session_scope(engine) as s:
            assert [m.text for m in s.exec(select(Message))] == ["GLOW please"]

    def test_a_refused_poll_is_logged_not_raised(self, engine, conv, fake, caplog):
        from planner.conversions import dm_poll

        fake.fail_gets = 403
        assert dm_poll.poll_due(engine, interval_seconds=60) == 0
        assert "X DM poll of account" in caplog.text

    def test_the_worker_schedules_the_poll(self, engine, conv, fake):
        import time

        from planner.publishing.jobs import start_worker
        from planner.settings import Settings

        fake.events = [self.EVENT]
        handle = start_worker(Settings(tick_seconds=0.5, dm_poll_seconds=0.5), engine=engine)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                with session_scope(engine) as s:
                    if s.exec(select(Message)).first() is not None:
                        break
                time.sleep(0.1)
        finally:
            handle.stop(wait=True)
        with session_scope(engine) as s:
            assert [m.text for m in s.exec(select(Message))] == ["GLOW please"]


class TestRepliesAgainstTheSandboxSendApi:
    """The sandbox's Send API takes only a Page as sender (Messenger Platform Send API;
    Instagram Messaging "POST /<PAGE_ID>/messages") and wants pages_messaging or
    instagram_manage_messages where the sign-in's permissions are known (issue 11)."""

    @pytest.fixture
    def meta(self):
        from sandbox import FakePlatform
        platform = FakePlatform()
        platform.start()
        yield platform
        platform.stop()

    def _reply(self, engine, conv, meta, platform, external_id, credentials):
        from planner import accounts
        with session_scope(engine) as s:
            account = accounts.create_account(
                session=s, workspace_id=conv.workspace_id, platform=platform,
                handle=f"h-{platform}", external_id=external_id, credentials=credentials)
            account.api_base = meta.base_url
            result = inbox.record_dm(session=s, account=account, sender_id="IGSID-7",
                                     text="hi", remote_id=None, at=None)
            account_id = account.id
        return _send(engine, result.contact.id, account_id, "Hello from the page")

    def test_instagram_replies_come_from_the_page_not_the_instagram_id(
            self, engine, conv, meta):
        from sandbox import INSTAGRAM_USER_ID
        msg = self._reply(engine, conv, meta, "instagram", INSTAGRAM_USER_ID,
                          {"access_token": "fake-token"})
        assert msg.delivery == "sent", msg.error
        [sent] = meta.sent_messages()
        assert sent["to"] == "IGSID-7" and sent["text"] == "Hello from the page"

    def test_a_kept_page_id_is_the_sender(self, engine, conv, meta):
        from sandbox import INSTAGRAM_USER_ID, META_PAGE_ID
        msg = self._reply(engine, conv, meta, "instagram", INSTAGRAM_USER_ID,
                          {"access_token": "fake-token", "page_id": META_PAGE_ID})
        assert msg.delivery == "sent", msg.error
        assert meta.sent_messages()[0]["from"] == META_PAGE_ID

    def test_messenger_replies_from_the_page(self, engine, conv, meta):
        from sandbox import META_PAGE_ID
        msg = self._reply(engine, conv, meta, "facebook", META_PAGE_ID,
                          {"page_access_token": "fake-token"})
        assert msg.delivery == "sent", msg.error
        assert meta.sent_messages()[0]["from"] == META_PAGE_ID

    def test_a_missing_messaging_permission_is_said_plainly(self, engine, conv, meta):
        from sandbox import META_PAGE_ID
        meta.meta_scopes["fake-token"] = {"pages_show_list", "pages_manage_posts"}
        msg = self._reply(engine, conv, meta, "facebook", META_PAGE_ID,
                          {"page_access_token": "fake-token"})
        assert msg.delivery == "failed" and "pages_messaging" in msg.error
        assert meta.sent_messages() == []


def test_the_meta_sign_in_asks_for_the_messaging_permissions():
    from planner.accounts import oauth
    assert "pages_messaging" in oauth.PROVIDERS["facebook"].scopes.split(",")
    assert "instagram_manage_messages" in oauth.PROVIDERS["instagram"].scopes.split(",")
