"""Login, logout, sessions and CSRF on the browser routes."""

import time

from webhelpers import PASSWORD, csrf_from, login, page_csrf

from planner.settings import get_settings


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
        real_time = time.time
        hours = get_settings().session_max_age_hours
        monkeypatch.setattr(time, "time", lambda: real_time() + hours * 3600 + 120)
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
