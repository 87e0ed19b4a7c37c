"""A new user's first minutes: log in, see the calendar, log out; a wrong password."""

from browserhelpers import log_in


def test_login_calendar_logout(page, server):
    log_in(page, server)
    assert page.locator("h1").first.inner_text()  # the month title
    assert page.locator("nav.mainnav a[aria-current=page]").inner_text() == "Calendar"
    assert page.locator(".card-pub").count() > 0  # demo posts are on the calendar
    page.click("text=Log out")
    page.wait_for_url(f"{server}/login")
    page.goto(f"{server}/")
    assert "/login" in page.url


def test_wrong_password_says_so(page, server):
    page.goto(f"{server}/login")
    page.fill("input[name=email]", "admin@poise.local")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    error = page.locator("#login-error")
    assert "do not match" in error.inner_text()
    assert page.locator("input[name=email]").input_value() == "admin@poise.local"
