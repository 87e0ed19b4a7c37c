"""The error page after a write that failed in the database (issue 13).

A flush that fails rolls the transaction back, which expires every object the request
loaded, and the request's unit of work detaches them: the error page used to touch the
logged-in user (an expired, detached object) and die with DetachedInstanceError, a bare 500.
"""

from __future__ import annotations

from webhelpers import page_csrf

HUGE = str(2**63 + 5)  # no INTEGER column holds it: the database refuses it at flush


def test_a_number_the_database_refuses_gets_the_friendly_page(world, make_client):
    c = make_client("admin@acme.test")
    token = page_csrf(c, f"/w/{world.slug}/attribution")
    r = c.post(f"/w/{world.slug}/attribution/settings",
               data={"csrf_token": token, "threshold": "1", "min_sessions": "1",
                     "weeks": "4", "weeks_below": "3", "cooldown_hours": HUGE})
    assert r.status_code == 422, r.text[:500]
    assert "out of range" in r.text and "admin@acme.test" in r.text  # the page, logged in
    assert "Traceback" not in r.text and "Detached" not in r.text
    # And nothing was half-saved: the page still works for the next request.
    assert c.get(f"/w/{world.slug}/attribution").status_code == 200


def test_an_htmx_request_gets_the_error_partial(world, make_client):
    c = make_client("admin@acme.test")
    token = page_csrf(c, f"/w/{world.slug}/attribution")
    r = c.post(f"/w/{world.slug}/attribution/settings",
               data={"csrf_token": token, "min_sessions": HUGE},
               headers={"HX-Request": "true"})
    assert r.status_code == 422 and "out of range" in r.text
