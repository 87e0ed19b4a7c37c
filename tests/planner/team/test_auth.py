"""Login, logout, sessions and CSRF on the browser routes."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from webhelpers import PASSWORD, csrf_from, login, page_csrf

from planner.db import session_scope, utcnow
from planner.models import LoginFailure, LoginSession
from planner.settings import get_settings
from planner.team import sessions


def _age_sessions(*, last_seen: timedelta = timedelta(0),
                  created: timedelta = timedelta(0)) -> None:
    with session_scope() as s:
        s.execute(update(LoginSession).values(last_seen_at=utcnow() - last_seen,
                                              created_at=utcnow() - created))


def _wrong(client: TestClient, email: str, password: str = "nope"):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token})


class TestServerSideSessions:
    def test_a_cookie_replayed_after_logout_is_dead(self, world, app, client):
        login(client, "admin@acme.test")
        cookie = client.cookies["poise_session"]
        token = csrf_from(client.get(f"/w/{world.slug}/calendar").text)
        client.post("/logout", data={"csrf_token": token})
        with TestClient(app) as replay:
            replay.cookies.set("poise_session", cookie)
            r = replay.get(f"/w/{world.slug}/calendar", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")

    def test_the_cookie_holds_no_user_id(self, world, client):
        import base64
        import json
        login(client, "admin@acme.test")
        payload = json.loads(base64.b64decode(client.cookies["poise_session"].split(".")[0]
                                              + "=="))
        assert "uid" not in payload and len(payload["sid"]) >= 40

    def test_absolute_lifetime_ends_an_active_session(self, world, client):
        login(client, "admin@acme.test")
        _age_sessions(created=timedelta(hours=get_settings().session_absolute_hours, minutes=1))
        r = client.get(f"/w/{world.slug}/calendar", follow_redirects=False)
        assert r.status_code == 303 and "expired=1" in r.headers["location"]

    def test_sign_out_everywhere_ends_other_browsers_too(self, world, make_client):
        laptop, phone = make_client("admin@acme.test"), make_client("admin@acme.test")
        token = csrf_from(laptop.get(f"/w/{world.slug}/calendar").text)
        r = laptop.post("/sign-out-everywhere", data={"csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303
        for c in (laptop, phone):
            r = c.get(f"/w/{world.slug}/calendar", follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")

    def test_a_deactivated_user_is_out_at_once(self, world, make_client):
        from sqlmodel import select

        from planner.models import User
        c = make_client("manager@acme.test")
        with session_scope() as s:
            user = s.exec(select(User).where(User.email == "manager@acme.test")).one()
            user.is_active = False
        r = c.get(f"/w/{world.slug}/calendar", follow_redirects=False)
        assert r.status_code == 303


class TestThrottle:
    def test_the_eleventh_wrong_password_waits_with_retry_after(self, world, client):
        for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT):
            assert _wrong(client, "admin@acme.test").status_code == 401
        r = _wrong(client, "admin@acme.test", PASSWORD)  # even the right one now waits
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert "Too many failed attempts" in r.text

    def test_an_unknown_email_is_throttled_the_same_way(self, world, client):
        for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT):
            assert _wrong(client, "ghost@acme.test").status_code == 401
        r = _wrong(client, "ghost@acme.test")
        assert r.status_code == 429 and "Too many failed attempts" in r.text

    def test_per_address_across_accounts(self, world, client):
        for i in range(sessions.MAX_FAILURES_PER_ADDRESS):
            _wrong(client, f"spray{i}@acme.test")
        assert _wrong(client, "admin@acme.test", PASSWORD).status_code == 429

    def test_the_count_lives_in_the_database_and_leaves_the_window(self, world, client, app):
        for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT):
            _wrong(client, "admin@acme.test")
        with TestClient(app) as other_process_like:  # shares only the database
            assert _wrong(other_process_like, "admin@acme.test").status_code == 429
        with session_scope() as s:
            s.execute(update(LoginFailure).values(
                at=utcnow() - sessions.THROTTLE_WINDOW - timedelta(seconds=1)))
        login(client, "admin@acme.test")


class TestLogin:
    def test_wrong_password_says_so_and_keeps_email(self, world, client):
        token = csrf_from(client.get("/login").text)
        r = client.post("/login", data={"email": "admin@acme.test", "password": "nope",
                                         "csrf_token": token})
        assert r.status_code == 401
        assert "do not match" in r.text
        assert 'value="admin@acme.test"' in r.text

    def test_unknown_email_gets_the_same_message(self, world, client):
        token = csrf_from(client.get("/login").text)
        r = client.post("/login", data={"email": "ghost@acme.test", "password": PASSWORD,
                                         "csrf_token": token})
        assert r.status_code == 401 and "do not match" in r.text

    def test_login_then_calendar_then_logout(self, world, client):
        login(client, "admin@acme.test")
        r = client.get("/", follow_redirects=True)
        assert r.status_code == 200 and "Calendar" in r.text
        token = csrf_from(r.text)
        r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        r = client.get(f"/w/{world.slug}/calendar", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")

    def test_next_parameter_cannot_redirect_off_site(self, world, client):
        token = csrf_from(client.get("/login").text)
        r = client.post("/login", data={"email": "admin@acme.test", "password": PASSWORD,
                                         "csrf_token": token, "next": "//evil.example/x"},
                        follow_redirects=False)
        assert r.headers["location"] == "/"

    def test_expired_session_redirects_with_a_clear_message(self, world, client, monkeypatch):
        login(client, "admin@acme.test")
        hours = get_settings().session_max_age_hours
        _age_sessions(last_seen=timedelta(hours=hours, minutes=2))
        r = client.get(f"/w/{world.slug}/calendar", follow_redirects=False)
        assert r.status_code == 303 and "expired=1" in r.headers["location"]
        r = client.get(r.headers["location"])
        assert "session expired" in r.text

    def test_htmx_request_without_login_gets_hx_redirect(self, world, client):
        r = client.get(f"/w/{world.slug}/calendar", headers={"HX-Request": "true"},
                       follow_redirects=False)
        assert r.status_code == 204 and r.headers["HX-Redirect"].startswith("/login")


class TestCsrf:
    def test_login_without_token_is_refused_with_a_page(self, world, client):
        r = client.post("/login", data={"email": "admin@acme.test", "password": PASSWORD})
        assert r.status_code == 403
        assert "did not come from Poise" in r.text and "Traceback" not in r.text

    def test_form_post_without_token_changes_nothing(self, world, client):
        login(client, "admin@acme.test")
        r = client.post(f"/w/{world.slug}/settings/tokens", data={"name": "sneaky"})
        assert r.status_code == 403
        assert "sneaky" not in client.get(f"/w/{world.slug}/settings").text

    def test_htmx_header_token_is_accepted(self, world, client):
        login(client, "admin@acme.test")
        token = page_csrf(client, f"/w/{world.slug}/settings")
        r = client.post(f"/w/{world.slug}/settings/tokens", data={"name": "shop sync"},
                        headers={"X-CSRF-Token": token, "HX-Request": "true"})
        assert r.status_code == 200 and "shop sync" in r.text and 'id="new-token"' in r.text
        assert "<html" not in r.text  # a fragment for htmx, not a page

    def test_token_changes_on_login(self, world, client):
        before = csrf_from(client.get("/login").text)
        login(client, "admin@acme.test")
        after = page_csrf(client, f"/w/{world.slug}/settings")
        assert before != after
