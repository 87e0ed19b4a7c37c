"""Connecting accounts against the loopback fake platforms: credentials, OAuth, status."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from sqlmodel import select
from webhelpers import page_csrf

from planner import connections
from planner.crypto import decrypt_credentials, encrypt_credentials
from planner.db import session_scope
from planner.errors import Invalid
from planner.models import Account, AccountStatus
from publishers.fakes import FakePlatform


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
        from publishers.fakes import WEBHOOK_SECRET

        c = make_client("manager@acme.test")
        assert connect_form(c, world, platform="bluesky", handle="brand.bsky.social",
                            api_base=fake.base_url, cred_identifier="brand.bsky.social",
                            cred_app_password="fake-app-password").status_code == 303
        assert connect_form(c, world, platform="webhook", handle="shop",
                            api_base=f"{fake.base_url}/webhook/shop",
                            cred_secret=WEBHOOK_SECRET).status_code == 303

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


def _follow_oauth(c, start_url):
    r = c.get(start_url, follow_redirects=False)
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
            account = s.exec(select(Account).where(Account.platform == "mastodon")).all()[-1]
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
            account = s.exec(select(Account).where(Account.platform == "x")).all()[-1]
            creds = decrypt_credentials(account.credentials_enc)
            assert creds["refresh_token"].startswith("x-refresh-") and account.token_expires_at

    def test_forged_state_is_refused(self, world, make_client, fake):
        c = make_client("manager@acme.test")
        c.get(f"/w/{world.slug}/accounts/oauth/mastodon?api_base={fake.base_url}",
              follow_redirects=False)
        r = c.get("/oauth/callback/mastodon?code=abc&state=forged")
        assert r.status_code == 422 and "expired or was not started here" in r.text

    def test_x_without_client_id_says_what_to_do(self, world, make_client):
        c = make_client("manager@acme.test")
        r = c.get(f"/w/{world.slug}/accounts/oauth/x")
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
    from planner.crypto import CredentialsUnreadable

    with session_scope(engine) as s, pytest.raises(CredentialsUnreadable):
        decrypt_credentials(s.get(Account, world.account_id).credentials_enc, keys=[old])


def test_unknown_platform_is_refused(world, engine):
    with session_scope(engine) as s, pytest.raises(Invalid):
        connections.connect(session=s, workspace_id=world.workspace_id, platform="myspace",
                            handle="x", credentials={}, actor_id=None)
