"""Connecting accounts against the loopback fake platforms: credentials, OAuth, status."""

import base64
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from sqlmodel import col, select
from webhelpers import page_csrf

from planner.accounts import connections
from planner.accounts.crypto import decrypt_credentials, encrypt_credentials
from planner.db import session_scope, utcnow
from planner.errors import Invalid
from planner.models import Account, AccountStatus, AuditEvent, Post
from planner.posts.textrules import content_for
from planner.publishing.outgoing import build_account_ref
from planner.settings import get_settings
from publishers import AccountRef, Content, MediaFile, PublishContext, mastodon
from publishers.dm import final_text
from publishers.facebook import FacebookPublisher
from publishers.instagram import InstagramPublisher
from publishers.linkedin import LinkedInPublisher
from publishers.mastodon import MastodonPublisher
from publishers.x import XPublisher
from sandbox import (
    EXTERNAL_IDS,
    INSTAGRAM_USER_ID,
    MASTODON_ACCOUNT_ID,
    META_PAGE_ID,
    THREADS_USER_ID,
    X_USER_ID,
    FakePlatform,
)


@pytest.fixture(scope="module")
def fake():
    platform = FakePlatform(mastodon_max_characters=777)
    platform.start()
    yield platform
    platform.stop()


@pytest.fixture(autouse=True)
def _fresh(fake):
    fake.reset()


def connect_form(c, world, **data):
    token = page_csrf(c, f"/w/{world.slug}/accounts")
    return c.post(f"/w/{world.slug}/accounts", data={"csrf_token": token, **data},
                  follow_redirects=False)


class TestConnectByCredentials:
    def test_mastodon_checked_encrypted_and_limit_read(self, world, make_client, fake):
        c = make_client("manager@acme.test")
        r = connect_form(c, world, platform="mastodon", handle="@brand@fake.social",
                         api_base=fake.base_url, cred_access_token="fake-token")
        assert r.status_code == 303, r.text
        with session_scope() as s:
            account = s.exec(select(Account).where(Account.handle == "@brand@fake.social")).one()
            assert account.text_limit == 777 and account.status == AccountStatus.ok
            assert "fake-token" not in account.credentials_enc
            assert decrypt_credentials(account.credentials_enc) == {"access_token": "fake-token"}
        page = c.get(f"/w/{world.slug}/accounts").text
        assert "777 characters" in page and "fake-token" not in page

    def test_refused_credentials_save_nothing(self, world, make_client, fake):
        c = make_client("manager@acme.test")
        r = connect_form(c, world, platform="mastodon", handle="@bad", api_base=fake.base_url,
                         cred_access_token="wrong")
        assert r.status_code == 422 and "did not accept" in r.text
        with session_scope() as s:
            assert s.exec(select(Account).where(Account.handle == "@bad")).first() is None

    def test_missing_field_is_shown_at_the_field(self, world, make_client, fake):
        c = make_client("manager@acme.test")
        r = connect_form(c, world, platform="bluesky", handle="brand.bsky.social",
                         api_base=fake.base_url, cred_identifier="brand.bsky.social")
        assert r.status_code == 422 and "App password is required" in r.text

    def test_bluesky_and_webhook(self, world, make_client, fake):
        from sandbox import WEBHOOK_SECRET

        c = make_client("manager@acme.test")
        assert connect_form(c, world, platform="bluesky", handle="brand.bsky.social",
                            api_base=fake.base_url, cred_identifier="brand.bsky.social",
                            cred_app_password="fake-app-password").status_code == 303
        assert connect_form(c, world, platform="webhook", handle="shop",
                            api_base=f"{fake.base_url}/webhook/shop",
                            cred_secret=WEBHOOK_SECRET).status_code == 303

    def test_platform_trouble_while_checking_saves_nothing_and_says_why(
            self, world, make_client, fake):
        fake.inject("read", "5xx_before_create", platform="mastodon")
        c = make_client("manager@acme.test")
        r = connect_form(c, world, platform="mastodon", handle="@later",
                         api_base=fake.base_url, cred_access_token="fake-token")
        assert r.status_code == 503 and "try again in a moment" in r.text
        assert "did not accept" not in r.text
        with session_scope() as s:
            assert s.exec(select(Account).where(Account.handle == "@later")).first() is None

    def test_x_user_id_is_filled_in_from_the_platform(self, world, make_client, fake):
        c = make_client("manager@acme.test")
        r = connect_form(c, world, platform="x", handle="@poise", api_base=fake.base_url,
                         cred_consumer_key="fake-consumer-key",
                         cred_consumer_secret="fake-consumer-secret",
                         cred_access_token="fake-token",
                         cred_access_token_secret="fake-token-secret")
        assert r.status_code == 303, r.text
        with session_scope() as s:
            account = s.exec(select(Account).where(Account.platform == "x",
                                                   Account.handle == "@poise")).one()
            assert account.external_id == X_USER_ID

    def test_viewer_cannot_connect(self, world, make_client, fake):
        c = make_client("viewer@acme.test")
        r = connect_form(c, world, platform="mastodon", handle="@x", api_base=fake.base_url,
                         cred_access_token="fake-token")
        assert r.status_code == 403


class TestStatus:
    def _account(self, engine, world, fake, token="fake-token"):
        with session_scope(engine) as s:
            return connections.connect(session=s, workspace_id=world.workspace_id,
                                       platform="mastodon", handle="@m", api_base=fake.base_url,
                                       credentials={"access_token": token}, actor_id=None,
                                       check=False).id

    def test_test_connection_marks_needs_reconnect_then_reconnect(self, world, engine, fake,
                                                                  make_client):
        account_id = self._account(engine, world, fake, token="revoked")
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/accounts")
        r = c.post(f"/w/{world.slug}/accounts/{account_id}/test",
                   headers={"HX-Request": "true", "X-CSRF-Token": token})
        assert r.status_code == 200 and "needs reconnect" in r.text and "<html" not in r.text
        r = c.post(f"/w/{world.slug}/accounts/{account_id}/reconnect",
                   data={"cred_access_token": "fake-token"},
                   headers={"HX-Request": "true", "X-CSRF-Token": token})
        assert "Reconnected" in r.text and "connected" in r.text
        with session_scope(engine) as s:
            assert s.get(Account, account_id).status == AccountStatus.ok

    @pytest.mark.parametrize("kind, words", [
        ("5xx_before_create", "server error"), ("429", "rate limit"),
        ("connection_reset", "No answer")])
    def test_platform_trouble_leaves_the_account_connected(self, world, engine, fake,
                                                           make_client, kind, words):
        account_id = self._account(engine, world, fake)
        fake.inject("read", kind, platform="mastodon")
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/accounts")
        r = c.post(f"/w/{world.slug}/accounts/{account_id}/test",
                   headers={"HX-Request": "true", "X-CSRF-Token": token})
        assert r.status_code == 200 and "Could not reach Mastodon" in r.text
        assert words in r.text and "stays connected" in r.text
        assert "needs reconnect" not in r.text
        with session_scope(engine) as s:
            account = s.get(Account, account_id)
            assert (account.status, account.status_reason) == (AccountStatus.ok, "")

    def test_unreachable_platform_leaves_a_paused_account_paused(self, world, engine):
        with session_scope(engine) as s:
            account = connections.connect(
                session=s, workspace_id=world.workspace_id, platform="mastodon", handle="@gone",
                api_base="http://127.0.0.1:9", credentials={"access_token": "t"},
                actor_id=None, check=False)
            connections.pause(session=s, account=account, actor_id=None)
            result = connections.test_connection(session=s, account=account, actor_id=None)
            assert not result.ok and "Could not connect" in result.message
            assert "stays paused" in result.message
            assert account.status == AccountStatus.paused

    def test_success_fills_a_missing_linkedin_urn(self, world, engine, fake):
        with session_scope(engine) as s:
            account = connections.connect(
                session=s, workspace_id=world.workspace_id, platform="linkedin",
                handle="Brand lead", api_base=fake.base_url,
                credentials={"access_token": "fake-token"}, actor_id=None, check=False)
            assert account.external_id == ""
            result = connections.test_connection(session=s, account=account, actor_id=None)
            assert result.ok and account.external_id == "urn:li:person:fake-member"

    def test_pause_and_resume(self, world, engine, fake, make_client):
        account_id = self._account(engine, world, fake)
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/accounts")
        r = c.post(f"/w/{world.slug}/accounts/{account_id}/pause",
                   headers={"HX-Request": "true", "X-CSRF-Token": token})
        assert "Paused" in r.text and "Resume" in r.text
        with session_scope(engine) as s:
            assert s.get(Account, account_id).status == AccountStatus.paused
        r = c.post(f"/w/{world.slug}/accounts/{account_id}/resume",
                   headers={"HX-Request": "true", "X-CSRF-Token": token})
        assert "Resumed" in r.text

    def test_slots_form(self, world, engine, fake, make_client):
        account_id = self._account(engine, world, fake)
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/accounts")
        r = c.post(f"/w/{world.slug}/accounts/{account_id}/slots",
                   data={"slots": "Mon Wed 09:00\ndaily 18:30"},
                   headers={"HX-Request": "true", "X-CSRF-Token": token})
        assert "Queue slots saved" in r.text and "Wed 09:00" in r.text and "Sun 18:30" in r.text
        r = c.post(f"/w/{world.slug}/accounts/{account_id}/slots", data={"slots": "Funday 9"},
                   headers={"HX-Request": "true", "X-CSRF-Token": token})
        assert "is not a day" in r.text

    def test_other_workspace_account_is_404(self, world, make_client):
        c = make_client("admin@other.test")
        token = page_csrf(c, f"/w/{world.other_slug}/accounts")
        r = c.post(f"/w/{world.other_slug}/accounts/{world.account_id}/pause",
                   headers={"X-CSRF-Token": token})
        assert r.status_code == 404


def _jpeg(tmp_path: Path) -> tuple[MediaFile, ...]:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(64) + b"\xff\xd9")
    return (MediaFile(path=str(path), mime_type="image/jpeg", url="https://cdn.example/p.jpg"),)


def _ctx(key: str = "pub-1") -> PublishContext:
    return PublishContext(idempotency_key=key, fingerprint="fp", timeout_seconds=5.0)


def _last(platform: str) -> Account:
    with session_scope() as s:
        account = s.exec(select(Account).where(Account.platform == platform)
                         .order_by(Account.id.desc())).first()  # type: ignore[union-attr]
        s.expunge(account)
        return account


@pytest.fixture
def meta_app(monkeypatch):
    """The operator's Meta app, set the documented way (POISE_META_APP_ID/_SECRET)."""
    from planner import settings as settings_module

    monkeypatch.setenv("POISE_META_APP_ID", "fake-meta-app")
    monkeypatch.setenv("POISE_META_APP_SECRET", "fake-meta-secret")
    settings_module.get_settings.cache_clear()
    yield
    settings_module.get_settings.cache_clear()


def _start_oauth(c, start_url):
    """POST the start of a flow (with the page's CSRF token), as the Accounts page does."""
    parts = urlsplit(start_url)
    slug = parts.path.split("/")[2]
    fields = {k: v[0] for k, v in parse_qs(parts.query).items()}
    fields["csrf_token"] = page_csrf(c, f"/w/{slug}/accounts")
    return c.post(parts.path, data=fields, follow_redirects=False)


def _follow_oauth(c, start_url):
    r = _start_oauth(c, start_url)
    assert r.status_code == 303, r.text
    authorize = r.headers["location"]
    consent = requests.get(authorize, allow_redirects=False, timeout=5)
    assert consent.status_code == 302
    callback = urlsplit(consent.headers["Location"])
    return authorize, c.get(f"{callback.path}?{callback.query}", follow_redirects=False)


class TestOAuth:
    def test_mastodon_app_registration_and_code_flow(self, world, make_client, fake):
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/mastodon?api_base="
                                f"{fake.base_url}")
        assert r.status_code == 303 and "Connected" in r.headers["location"]
        with session_scope() as s:
            # The newest Mastodon account (the world has one already); without ORDER BY,
            # PostgreSQL may return rows in any order once the table has seen deletes.
            account = s.exec(select(Account).where(Account.platform == "mastodon")
                             .order_by(col(Account.id))).all()[-1]
            assert decrypt_credentials(account.credentials_enc)["access_token"] == "fake-token"

    def test_x_pkce(self, world, make_client, fake, monkeypatch):
        from planner.settings import get_settings

        monkeypatch.setenv("POISE_X_CLIENT_ID", "fake-client-id")
        get_settings.cache_clear()
        c = make_client("manager@acme.test")
        authorize, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/x?api_base="
                                        f"{fake.base_url}")
        query = parse_qs(urlsplit(authorize).query)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        assert r.status_code == 303
        with session_scope() as s:
            account = s.exec(select(Account).where(Account.platform == "x")
                             .order_by(col(Account.id))).all()[-1]
            creds = decrypt_credentials(account.credentials_enc)
            assert creds["refresh_token"].startswith("x-refresh-") and account.token_expires_at

    def test_x_stores_the_user_id_and_can_upload_images(self, world, make_client, fake,
                                                         monkeypatch, tmp_path):
        monkeypatch.setenv("POISE_X_CLIENT_ID", "fake-client-id")
        get_settings.cache_clear()
        c = make_client("manager@acme.test")
        authorize, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/x?api_base="
                                        f"{fake.base_url}")
        assert "media.write" in parse_qs(urlsplit(authorize).query)["scope"][0].split()
        account = _last("x")
        assert (account.external_id, account.handle) == (X_USER_ID, "@poise")
        assert "Connected+%40poise" in r.headers["location"]
        # The fake refuses uploads by OAuth 2.0 tokens granted without media.write.
        XPublisher().publish(Content(text="with a picture", media=_jpeg(tmp_path)),
                             build_account_ref(account), _ctx())
        assert len(fake.creates) == 1 and fake.creates[0].body["media"]["media_ids"]

    def test_linkedin_stores_the_author_urn_and_can_publish(self, world, make_client, fake,
                                                           monkeypatch):
        monkeypatch.setenv("POISE_LINKEDIN_CLIENT_ID", "li-client")
        monkeypatch.setenv("POISE_LINKEDIN_CLIENT_SECRET", "li-secret")
        get_settings.cache_clear()
        c = make_client("manager@acme.test")
        authorize, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/linkedin?api_base="
                                        f"{fake.base_url}")
        assert parse_qs(urlsplit(authorize).query)["client_id"] == ["li-client"]
        assert r.status_code == 303, r.text
        account = _last("linkedin")
        assert account.external_id == "urn:li:person:fake-member"
        assert account.token_expires_at is not None
        result = LinkedInPublisher().publish(Content(text="Hello network"),
                                             build_account_ref(account), _ctx())
        assert fake.creates[0].body["author"] == "urn:li:person:fake-member"
        assert result.remote_id.startswith("urn:li:share:")
        # The granted permissions are kept: without r_member_social an unknown outcome goes
        # to a person instead of a lookup LinkedIn would refuse (issue 11).
        ref = build_account_ref(account)
        assert ref.credentials["scope"] == "openid profile w_member_social"
        assert ref.api_version == get_settings().linkedin_version

    def test_linkedin_needs_the_client_secret_too(self, world, make_client, monkeypatch):
        monkeypatch.setenv("POISE_LINKEDIN_CLIENT_ID", "li-client")
        get_settings.cache_clear()
        c = make_client("manager@acme.test")
        r = _start_oauth(c, f"/w/{world.slug}/accounts/oauth/linkedin")
        assert r.status_code == 422 and "POISE_LINKEDIN_CLIENT_SECRET" in r.text

    def test_forged_state_is_refused(self, world, make_client, fake):
        c = make_client("manager@acme.test")
        _start_oauth(c, f"/w/{world.slug}/accounts/oauth/mastodon?api_base={fake.base_url}")
        r = c.get("/oauth/callback/mastodon?code=abc&state=forged")
        assert r.status_code == 422 and "expired or was not started here" in r.text

    def test_x_without_client_id_says_what_to_do(self, world, make_client):
        c = make_client("manager@acme.test")
        r = _start_oauth(c, f"/w/{world.slug}/accounts/oauth/x")
        assert r.status_code == 422 and "client id" in r.text


def test_key_rotation(world, engine, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = encrypt_credentials({"access_token": "t"}, key=old)
    with session_scope(engine) as s:
        account = s.get(Account, world.account_id)
        account.credentials_enc = token
    with session_scope(engine) as s:
        assert connections.rotate_credentials_key(session=s, new_key=new, old_keys=[old]) >= 1
    with session_scope(engine) as s:
        assert decrypt_credentials(s.get(Account, world.account_id).credentials_enc,
                                   keys=[new]) == {"access_token": "t"}
    from planner.accounts.crypto import CredentialsUnreadable

    with session_scope(engine) as s, pytest.raises(CredentialsUnreadable):
        decrypt_credentials(s.get(Account, world.account_id).credentials_enc, keys=[old])


def test_unknown_platform_is_refused(world, engine):
    with session_scope(engine) as s, pytest.raises(Invalid):
        connections.connect(session=s, workspace_id=world.workspace_id, platform="myspace",
                            handle="x", credentials={}, actor_id=None)


class TestConnectWithMeta:
    def test_facebook_page_with_its_page_token(self, world, make_client, fake, meta_app):
        c = make_client("manager@acme.test")
        authorize, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/facebook?api_base="
                                        f"{fake.base_url}")
        assert urlsplit(authorize).path == "/v25.0/dialog/oauth"
        query = parse_qs(urlsplit(authorize).query)
        assert query["client_id"] == ["fake-meta-app"]
        assert "pages_manage_posts" in query["scope"][0]
        assert r.status_code == 303, r.text
        account = _last("facebook")
        token = decrypt_credentials(account.credentials_enc)["page_access_token"]
        assert (account.external_id, account.handle, account.display_name) == (
            META_PAGE_ID, "poisedemo", "Poise Demo")  # the username makes m.me links work
        assert token.startswith(f"meta-page-{META_PAGE_ID}-")  # the page's, not the user's
        assert account.token_expires_at is None  # page tokens from long-lived ones last
        FacebookPublisher().publish(Content(text="Hello page"), build_account_ref(account),
                                    _ctx())
        assert fake.creates[0].body["access_token"] == token
        calls = [path for _, path, *_ in fake.requests]
        assert calls.count("/v25.0/oauth/access_token") == 2  # code, then long-lived
        assert "/v25.0/me/accounts" in calls

    def test_the_named_page_is_picked(self, world, make_client, fake, meta_app):
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/facebook?api_base="
                                f"{fake.base_url}&pick=poise+outlet")
        assert r.status_code == 303, r.text
        account = _last("facebook")
        assert account.external_id == account.handle == "200000000000002"  # no username

    def test_an_unknown_page_name_lists_the_pages(self, world, make_client, fake, meta_app):
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/facebook?api_base="
                                f"{fake.base_url}&pick=Nope")
        assert r.status_code == 422 and "Poise Demo, Poise Outlet" in r.text

    def test_instagram_account_linked_to_the_page(self, world, make_client, fake, meta_app,
                                                   tmp_path):
        c = make_client("manager@acme.test")
        authorize, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/instagram?api_base="
                                        f"{fake.base_url}")
        assert "instagram_content_publish" in parse_qs(urlsplit(authorize).query)["scope"][0]
        assert r.status_code == 303, r.text
        account = _last("instagram")
        assert (account.external_id, account.handle) == (INSTAGRAM_USER_ID, "@poise")
        result = InstagramPublisher().publish(Content(text="caption", media=_jpeg(tmp_path)),
                                              build_account_ref(account), _ctx())
        assert fake.creates[0].path == f"/v25.0/{INSTAGRAM_USER_ID}/media_publish"
        assert result.url.startswith("https://www.instagram.com/p/")

    def test_instagram_without_a_linked_account_says_so(self, world, make_client, fake,
                                                        meta_app):
        fake.meta_pages = [page for page in fake.meta_pages
                           if "instagram_business_account" not in page]
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/instagram?api_base="
                                f"{fake.base_url}")
        assert r.status_code == 422 and "Instagram professional account" in r.text
        with session_scope() as s:
            assert s.exec(select(Account).where(Account.platform == "instagram")).first() \
                is None

    def test_threads_long_lived_token_and_user_id(self, world, make_client, fake, meta_app):
        c = make_client("manager@acme.test")
        authorize, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/threads?api_base="
                                        f"{fake.base_url}")
        assert urlsplit(authorize).path == "/oauth/authorize"
        assert r.status_code == 303, r.text
        account = _last("threads")
        assert account.external_id == THREADS_USER_ID
        creds = decrypt_credentials(account.credentials_enc)
        assert creds["access_token"].startswith("threads-long-")
        assert account.token_expires_at > utcnow() + timedelta(days=59)
        calls = [path for _, path, *_ in fake.requests]
        assert calls.index("/oauth/access_token") < calls.index("/access_token")

    def test_the_app_secret_never_rides_in_the_session_cookie(self, world, make_client, fake,
                                                               meta_app):
        c = make_client("manager@acme.test")
        r = _start_oauth(c, f"/w/{world.slug}/accounts/oauth/facebook?api_base={fake.base_url}")
        assert r.status_code == 303
        signed = c.cookies["poise_session"]  # base64 JSON, signed but readable
        payload = base64.b64decode(signed.split(".")[0] + "==")
        assert b"fake-meta-app" in payload and b"fake-meta-secret" not in payload

    def test_without_the_app_settings_it_says_which(self, world, make_client):
        c = make_client("manager@acme.test")
        r = _start_oauth(c, f"/w/{world.slug}/accounts/oauth/instagram")
        assert r.status_code == 422 and "POISE_META_APP_ID" in r.text

    def test_page_offers_connect_with_meta(self, world, make_client):
        page = make_client("manager@acme.test").get(f"/w/{world.slug}/accounts").text
        for platform in ("facebook", "instagram", "threads"):
            assert f'formaction="/w/{world.slug}/accounts/oauth/{platform}"' in page


class TestWhatTheAdaptersReceive:
    def test_dispatch_passes_the_instance_text_limit(self, world, engine):
        mastodon.forget_instance_limits()
        with session_scope(engine) as s:
            account = s.get(Account, world.account_id)
            account.api_base, account.text_limit = "https://bikes.social", 777
            ref = build_account_ref(account)
        assert ref.text_limit == 777
        assert MastodonPublisher().validate(Content(text="a" * 600), ref) == []
        assert MastodonPublisher().validate(Content(text="a" * 778), ref)[0].field == "text"

    def test_uploaded_images_get_a_public_url(self, monkeypatch):
        monkeypatch.setenv("POISE_PUBLIC_BASE_URL", "https://poise.example/")
        get_settings.cache_clear()
        post = Post(workspace_id=1, text="Look", media_path="3/ab12.jpg",
                    media_mime="image/jpeg")
        [image] = content_for(post, media_dir=Path("/srv/media")).media
        assert image.url == "https://poise.example/media/3/ab12.jpg"
        assert image.path == "/srv/media/3/ab12.jpg"
        instagram = AccountRef(platform="instagram", handle="@b", api_base="",
                               credentials={"access_token": "t"}, external_id="1")
        problems = InstagramPublisher().validate(content_for(post), instagram)
        assert not [p for p in problems if "https URL" in p.message]

    def test_images_stored_elsewhere_have_no_url(self):
        post = Post(workspace_id=1, text="Look", media_path="/abs/x.jpg",
                    media_mime="image/jpeg")
        assert content_for(post).media[0].url == ""


# --- WhatsApp number ---------------------------------------------------------------------------

def _row_post(c, world, account_id, action, **data):
    token = page_csrf(c, f"/w/{world.slug}/accounts")
    return c.post(f"/w/{world.slug}/accounts/{account_id}/{action}", data=data,
                  headers={"HX-Request": "true", "X-CSRF-Token": token})


def _credentials_of(account_id):
    with session_scope() as s:
        return decrypt_credentials(s.get(Account, account_id).credentials_enc)


def _glow_post(post_id: int = 7) -> Post:
    return Post(id=post_id, workspace_id=1, text="The winter serum is back.",
                dm_keyword="GLOW", dm_product_url="https://shop.example/glow")


class TestWhatsAppNumber:
    def test_set_and_cleared_on_the_accounts_page(self, world, make_client):
        c = make_client("manager@acme.test")
        r = _row_post(c, world, world.account_id, "whatsapp",
                      whatsapp_number=" +48 600-100-200 ")
        assert r.status_code == 200 and "<html" not in r.text
        assert "WhatsApp number saved" in r.text and "+48600100200" in r.text
        # Stored with the other credentials, encrypted, and those are kept.
        assert _credentials_of(world.account_id) == {
            "access_token": "secret-token-123", "whatsapp_number": "+48600100200"}
        with session_scope() as s:
            assert "48600100200" not in s.get(Account, world.account_id).credentials_enc
            event = s.exec(select(AuditEvent).where(
                AuditEvent.action == "account.whatsapp_number")).one()
            assert "+48600100200" in event.after
        page = c.get(f"/w/{world.slug}/accounts").text
        assert 'data-whatsapp-number>+48600100200<' in page

        r = _row_post(c, world, world.account_id, "whatsapp", whatsapp_number="")
        assert "WhatsApp number removed" in r.text
        assert _credentials_of(world.account_id) == {"access_token": "secret-token-123"}

    @pytest.mark.parametrize("typed, words", [
        ("600 abc 200", "digits only"), ("+48 600+100", "digits only"),
        ("0600 100 200", "international format"), ("0048 600 100 200", "international format"),
        ("+48 12", "7 to 15 digits"), ("+1234567890123456", "7 to 15 digits")])
    def test_a_bad_number_is_refused_at_the_field(self, world, make_client, typed, words):
        c = make_client("manager@acme.test")
        _row_post(c, world, world.account_id, "whatsapp", whatsapp_number="+48600100200")
        r = _row_post(c, world, world.account_id, "whatsapp", whatsapp_number=typed)
        assert r.status_code == 422 and words in r.text
        field = r.text.split('name="whatsapp_number"')[1].split(">")[0]
        assert 'aria-invalid="true"' in field and f'value="{typed}"' in field
        assert 'class="field-error"' in r.text
        assert _credentials_of(world.account_id)["whatsapp_number"] == "+48600100200"

    def test_viewer_cannot_set_it(self, world, make_client):
        c = make_client("viewer@acme.test")
        r = _row_post(c, world, world.account_id, "whatsapp", whatsapp_number="+48600100200")
        assert r.status_code == 403
        assert "whatsapp_number" not in _credentials_of(world.account_id)

    def test_another_workspace_cannot_set_it(self, world, make_client):
        c = make_client("admin@other.test")
        token = page_csrf(c, f"/w/{world.other_slug}/accounts")
        r = c.post(f"/w/{world.other_slug}/accounts/{world.account_id}/whatsapp",
                   data={"whatsapp_number": "+48600100200"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 404
        assert "whatsapp_number" not in _credentials_of(world.account_id)

    def test_not_while_a_token_refresh_holds_the_credentials(self, world, make_client):
        with session_scope() as s:
            s.get(Account, world.account_id).token_refresh_lease = utcnow() + timedelta(
                seconds=60)
        c = make_client("manager@acme.test")
        r = _row_post(c, world, world.account_id, "whatsapp", whatsapp_number="+48600100200")
        assert r.status_code == 409 and "being refreshed" in r.text
        assert "whatsapp_number" not in _credentials_of(world.account_id)

    def test_the_connect_form_takes_it(self, world, make_client, fake):
        c = make_client("manager@acme.test")
        r = connect_form(c, world, platform="mastodon", handle="@wa@fake.social",
                         api_base=fake.base_url, cred_access_token="fake-token",
                         whatsapp_number="+351 912 345 678")
        assert r.status_code == 303, r.text
        account = _last("mastodon")
        assert decrypt_credentials(account.credentials_enc) == {
            "access_token": "fake-token", "whatsapp_number": "+351912345678"}

    def test_the_connect_form_refuses_a_bad_number_before_calling_the_platform(
            self, world, make_client, fake):
        c = make_client("manager@acme.test")
        r = connect_form(c, world, platform="mastodon", handle="@wa@fake.social",
                         api_base=fake.base_url, cred_access_token="fake-token",
                         whatsapp_number="call me")
        assert r.status_code == 422 and "digits only" in r.text
        assert 'id="connect-whatsapp-error"' in r.text and 'value="call me"' in r.text
        assert fake.requests == []
        with session_scope() as s:
            assert s.exec(select(Account).where(Account.handle == "@wa@fake.social")).first() \
                is None

    def test_the_text_sent_for_a_mastodon_post_carries_the_wa_me_link(
            self, world, make_client, fake):
        c = make_client("manager@acme.test")
        r = connect_form(c, world, platform="mastodon", handle="@shop@fake.social",
                         api_base=fake.base_url, cred_access_token="fake-token")
        assert r.status_code == 303, r.text
        account = _last("mastodon")
        post = _glow_post()
        assert "wa.me" not in final_text(content_for(post), build_account_ref(account))
        _row_post(c, world, account.id, "whatsapp", whatsapp_number="+48 600 100 200")
        account = _last("mastodon")
        ref = build_account_ref(account)  # what the dispatcher hands the adapter
        text = final_text(content_for(post), ref)
        assert text.endswith("DM us GLOW for the link https://wa.me/48600100200?text=GLOW")
        MastodonPublisher().publish(content_for(post), ref, _ctx())
        assert fake.creates[0].body["status"] == text

    def test_the_composer_preview_shows_the_wa_me_link(self, world, make_client):
        c = make_client("manager@acme.test")
        _row_post(c, world, world.account_id, "whatsapp", whatsapp_number="+48600100200")
        token = page_csrf(c, f"/w/{world.slug}/posts/new")
        r = c.post(f"/w/{world.slug}/compose/preview", headers={"X-CSRF-Token": token},
                   data={"text": "The winter serum is back.", "dm_keyword": "GLOW",
                         "dm_product_url": "https://shop.example/glow",
                         "account_ids": [str(world.account_id)]})
        assert r.status_code == 200 and "https://wa.me/48600100200?text=GLOW" in r.text

    def test_the_number_survives_a_reconnect(self, world, make_client, fake):
        with session_scope() as s:
            account = connections.connect(
                session=s, workspace_id=world.workspace_id, platform="mastodon",
                handle="@kept@fake.social", api_base=fake.base_url,
                credentials={"access_token": "revoked"}, whatsapp_number="+48600100200",
                actor_id=None, check=False)
            connections.accounts.set_status(session=s, account=account,
                                            status=AccountStatus.needs_reconnect)
            account_id = account.id
        c = make_client("manager@acme.test")
        r = _row_post(c, world, account_id, "reconnect", cred_access_token="fake-token")
        assert "Reconnected" in r.text
        assert _credentials_of(account_id) == {"access_token": "fake-token",
                                               "whatsapp_number": "+48600100200"}


# --- reconnecting without duplicates -----------------------------------------------------------

def _needing_reconnect(world, platform, credentials, *, handle="@old", external_id="",
                       api_base="", status=AccountStatus.needs_reconnect):
    with session_scope() as s:
        account = connections.connect(
            session=s, workspace_id=world.workspace_id, platform=platform, handle=handle,
            api_base=api_base, credentials=credentials, external_id=external_id,
            whatsapp_number="+48600100200", actor_id=None, check=False)
        account.token_expires_at = utcnow() - timedelta(hours=1)
        connections.accounts.set_status(session=s, account=account, status=status,
                                        reason="X refused the token")
        return account.id


def _accounts_of(world, platform, api_base=None):
    """The workspace's accounts on ``platform`` (the world has one Mastodon of its own)."""
    with session_scope() as s:
        rows = s.exec(select(Account).where(Account.workspace_id == world.workspace_id,
                                            Account.platform == platform)).all()
        return [a for a in rows if api_base is None or a.api_base == api_base]


X_OAUTH1 = {"consumer_key": "fake-consumer-key", "consumer_secret": "fake-consumer-secret",
            "access_token": "fake-token", "access_token_secret": "fake-token-secret"}


class TestReconnectForm:
    def test_offers_every_credential_set_of_the_platform(self, world, make_client, fake):
        account_id = _needing_reconnect(world, "x", {**X_OAUTH1, "access_token": "revoked"},
                                        external_id=X_USER_ID, api_base=fake.base_url)
        page = make_client("manager@acme.test").get(f"/w/{world.slug}/accounts").text
        row = page.split(f'id="account-{account_id}"')[1].split("</tr>")[0]
        sets = row.split("data-credential-set=")[1:]
        assert len(sets) == 2
        assert all(f'name="cred_{f}"' in sets[0] for f in X_OAUTH1)
        assert "OAuth 2.0 tokens" in sets[1]
        for name in ("access_token", "refresh_token", "client_id", "client_secret"):
            assert f'name="cred_{name}"' in sets[1]
        assert "consumer_key" not in sets[1]
        assert f'action="/w/{world.slug}/accounts/oauth/x"' in row
        assert f'name="api_base" value="{fake.base_url}"' in row

    def test_x_moves_from_oauth1_keys_to_oauth2_tokens(self, world, make_client, fake):
        account_id = _needing_reconnect(world, "x", {**X_OAUTH1, "access_token": "revoked"},
                                        external_id=X_USER_ID, api_base=fake.base_url)
        c = make_client("manager@acme.test")
        r = _row_post(c, world, account_id, "reconnect", cred_access_token="fake-token",
                      cred_refresh_token="x-refresh-1", cred_client_id="fake-client-id")
        assert r.status_code == 200 and "Reconnected" in r.text, r.text
        with session_scope() as s:
            account = s.get(Account, account_id)
            assert account.status == AccountStatus.ok and account.status_reason == ""
        assert _credentials_of(account_id) == {
            "access_token": "fake-token", "refresh_token": "x-refresh-1",
            "client_id": "fake-client-id", "whatsapp_number": "+48600100200"}
        assert len(_accounts_of(world, "x")) == 1

    def test_x_moves_from_oauth2_tokens_to_oauth1_keys_and_leaves_the_refresh_job_alone(
            self, world, make_client, fake, engine):
        from planner.accounts import tokens

        account_id = _needing_reconnect(
            world, "x", {"access_token": "revoked", "refresh_token": "spent",
                         "client_id": "fake-client-id"},
            external_id=X_USER_ID, api_base=fake.base_url)
        c = make_client("manager@acme.test")
        r = _row_post(c, world, account_id, "reconnect",
                      **{f"cred_{k}": v for k, v in X_OAUTH1.items()})
        assert "Reconnected" in r.text, r.text
        assert _credentials_of(account_id) == {**X_OAUTH1, "whatsapp_number": "+48600100200"}
        # The old token's expiry went with it: no refresh of keys that cannot be refreshed.
        assert account_id not in tokens.due_for_refresh(engine, utcnow())

    def test_a_half_filled_set_names_its_missing_fields(self, world, make_client, fake):
        account_id = _needing_reconnect(world, "x", X_OAUTH1, external_id=X_USER_ID,
                                        api_base=fake.base_url)
        c = make_client("manager@acme.test")
        r = _row_post(c, world, account_id, "reconnect", cred_refresh_token="x-refresh-1")
        assert "OAuth 2.0 access token is required" in r.text
        assert "Client id is required" in r.text and "API key is required" not in r.text
        assert fake.requests == []

    def test_credentials_of_another_account_are_refused(self, world, make_client, fake):
        account_id = _needing_reconnect(world, "mastodon", {"access_token": "revoked"},
                                        external_id="999", api_base=fake.base_url)
        c = make_client("manager@acme.test")
        r = _row_post(c, world, account_id, "reconnect", cred_access_token="fake-token")
        assert "belong to another account" in r.text and "Reconnected" not in r.text
        with session_scope() as s:
            assert s.get(Account, account_id).status == AccountStatus.needs_reconnect
        assert _credentials_of(account_id)["access_token"] == "revoked"


@pytest.fixture
def oauth_apps(monkeypatch):
    """Every operator setting the 'Connect with' buttons need."""
    for name, value in (("POISE_X_CLIENT_ID", "fake-client-id"),
                        ("POISE_LINKEDIN_CLIENT_ID", "li-client"),
                        ("POISE_LINKEDIN_CLIENT_SECRET", "li-secret"),
                        ("POISE_META_APP_ID", "fake-meta-app"),
                        ("POISE_META_APP_SECRET", "fake-meta-secret")):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


OLD_CREDENTIALS = {"x": {"access_token": "revoked", "refresh_token": "spent",
                         "client_id": "fake-client-id"},
                   "facebook": {"page_access_token": "revoked"}}
NEW_TOKEN_FIELD = {"x": ("refresh_token", "x-refresh-"), "mastodon": ("access_token", "fake-token"),
                   "linkedin": ("access_token", "li-"),
                   "facebook": ("page_access_token", f"meta-page-{META_PAGE_ID}-"),
                   "instagram": ("access_token", f"meta-page-{META_PAGE_ID}-"),
                   "threads": ("access_token", "threads-long-")}


class TestReconnectWithOAuth:
    @pytest.mark.parametrize("platform", list(NEW_TOKEN_FIELD))
    def test_an_account_needing_reconnect_is_renewed_not_added(
            self, world, make_client, fake, oauth_apps, platform):
        account_id = _needing_reconnect(
            world, platform, OLD_CREDENTIALS.get(platform, {"access_token": "revoked"}),
            external_id=EXTERNAL_IDS[platform], api_base=fake.base_url)
        c = make_client("manager@acme.test")
        page = c.get(f"/w/{world.slug}/accounts").text
        row = page.split(f'id="account-{account_id}"')[1].split("</tr>")[0]
        form = row.split('data-reconnect-oauth')[0].rsplit("<form", 1)[1]
        action = form.split('action="')[1].split('"')[0]
        fields = dict(re.findall(r'name="(api_base|pick)" value="([^"]*)"',
                                 row.split("data-reconnect-oauth")[1].split("</form>")[0]))
        _, r = _follow_oauth(c, f"{action}?{urlencode(fields)}")
        assert r.status_code == 303, r.text
        assert "Reconnected" in unquote_plus(r.headers["location"])
        [account] = _accounts_of(world, platform, fake.base_url)
        assert account.id == account_id and account.status == AccountStatus.ok
        assert account.status_reason == "" and account.handle == "@old"
        field, prefix = NEW_TOKEN_FIELD[platform]
        credentials = decrypt_credentials(account.credentials_enc)
        assert credentials[field].startswith(prefix)
        assert credentials["whatsapp_number"] == "+48600100200"
        if platform in ("x", "linkedin", "threads"):  # tokens that expire: the new expiry
            assert account.token_expires_at > utcnow()
        else:
            assert account.token_expires_at is None

    def test_x_renewed_by_oauth_publishes_again(self, world, make_client, fake, oauth_apps):
        account_id = _needing_reconnect(world, "x", X_OAUTH1 | {"access_token": "revoked"},
                                        external_id=X_USER_ID, api_base=fake.base_url)
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/x?api_base={fake.base_url}")
        assert r.status_code == 303, r.text
        [account] = _accounts_of(world, "x")
        assert account.id == account_id
        assert "consumer_key" not in decrypt_credentials(account.credentials_enc)
        post = _glow_post()
        XPublisher().publish(content_for(post), build_account_ref(account), _ctx())
        sent = fake.creates[0].body["text"]
        assert f"recipient_id={X_USER_ID}" in sent  # its own DM link, not WhatsApp

    def test_mastodon_matches_by_handle_where_the_account_has_no_id(
            self, world, make_client, fake):
        account_id = _needing_reconnect(world, "mastodon", {"access_token": "revoked"},
                                        handle="@poise", api_base=fake.base_url)
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/mastodon?api_base="
                                f"{fake.base_url}")
        assert r.status_code == 303, r.text
        matching = _accounts_of(world, "mastodon", fake.base_url)
        assert [a.id for a in matching] == [account_id]
        assert matching[0].external_id == MASTODON_ACCOUNT_ID  # learnt on the way

    def test_the_same_name_on_another_instance_is_another_account(
            self, world, make_client, fake):
        other_id = _needing_reconnect(world, "mastodon", {"access_token": "revoked"},
                                      handle="@poise", external_id=MASTODON_ACCOUNT_ID,
                                      api_base="https://other.example")
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/mastodon?api_base="
                                f"{fake.base_url}")
        assert r.status_code == 303 and "Connected" in unquote_plus(r.headers["location"])
        with session_scope() as s:
            assert s.get(Account, other_id).status == AccountStatus.needs_reconnect
        assert fake.base_url in [a.api_base for a in _accounts_of(world, "mastodon")]

    def test_a_different_x_user_is_a_new_account(self, world, make_client, fake, oauth_apps):
        other_id = _needing_reconnect(world, "x", X_OAUTH1, handle="@poise",
                                      external_id="42", api_base=fake.base_url)
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/x?api_base={fake.base_url}")
        assert r.status_code == 303, r.text
        assert sorted(a.external_id for a in _accounts_of(world, "x")) == ["1000000001", "42"]
        with session_scope() as s:
            assert s.get(Account, other_id).status == AccountStatus.needs_reconnect

    def test_a_paused_account_gets_the_tokens_and_stays_paused(
            self, world, make_client, fake, oauth_apps):
        account_id = _needing_reconnect(world, "linkedin", {"access_token": "old"},
                                        external_id=EXTERNAL_IDS["linkedin"],
                                        api_base=fake.base_url, status=AccountStatus.paused)
        c = make_client("manager@acme.test")
        _, r = _follow_oauth(c, f"/w/{world.slug}/accounts/oauth/linkedin?api_base="
                                f"{fake.base_url}")
        assert "stays paused" in unquote_plus(r.headers["location"])
        [account] = _accounts_of(world, "linkedin")
        assert account.id == account_id and account.status == AccountStatus.paused
        assert decrypt_credentials(account.credentials_enc)["access_token"].startswith("li-")

    def test_connecting_an_account_by_credentials_again_renews_it(
            self, world, make_client, fake):
        c = make_client("manager@acme.test")
        for token in ("fake-token", "fake-token"):
            r = connect_form(c, world, platform="mastodon", handle="@twice@fake.social",
                             api_base=fake.base_url, cred_access_token=token)
            assert r.status_code == 303, r.text
        assert "Reconnected" in unquote_plus(r.headers["location"])
        assert len(_accounts_of(world, "mastodon", fake.base_url)) == 1
