"""The what-if on the Balance page (issue 14): pick an account, a value and a count; see the
balance and its warnings change, without leaving the page. Nothing is saved."""

import re

from sqlmodel import func, select

from planner.db import session_scope
from planner.models import Publication

from .test_balance import publish_history

HTMX = {"HX-Request": "true"}


def what_if(client, world, **params):
    return client.get(f"/w/{world.slug}/balance/what-if", params=params, headers=HTMX)


def summary(html):
    found = re.search(r'class="what-if-summary"[^>]*><strong>(.*?)</strong>', html, re.S)
    assert found, html[:2000]
    return found.group(1)


def test_enough_care_posts_clear_the_try_warning(world, engine, make_client):
    publish_history(engine, world, (10, 4, 3, 3))  # Try 10 of 20: overweight (9 is enough)
    lead = make_client("lead@acme.test")
    one = what_if(lead, world, account=world.account_id, value="care", count=1)
    assert one.status_code == 200
    # One more Care post pushes the oldest (a Try) out: 9 of 20 is still overweight.
    assert summary(one.text) == ("One more Care for others post on @acme@bikes.social: "
                                 "no warning appears or clears.")
    two = what_if(lead, world, account=world.account_id, value="care", count=2)
    assert summary(two.text) == ("Two more Care for others posts on @acme@bikes.social: "
                                 "the Try new things overweight warning clears.")
    # The table shows the counts before and after, and the compass after.
    assert "10 of 20" in two.text and "8 of 20" in two.text and "<svg" in two.text
    # An htmx answer is the what-if section alone, ready to replace the old one.
    assert "<html" not in two.text
    assert 'id="what-if"' in two.text


def test_more_of_one_value_raises_a_warning(world, engine, make_client):
    publish_history(engine, world, (5, 5, 5, 5))
    viewer = make_client("viewer@acme.test")  # reading is for everyone in the workspace
    # Eight more push the eight oldest out (three of them Try): Try 10 of the last 20.
    page = what_if(viewer, world, account=world.account_id, value="try", count=8)
    assert page.status_code == 200
    text = summary(page.text)
    assert text.startswith("Eight more Try new things posts on @acme@bikes.social: ")
    assert "Try new things becomes overweight (10 of the last 20)" in text


def test_the_page_filters_apply(world, engine, make_client):
    publish_history(engine, world, (10, 4, 3, 3))
    lead = make_client("lead@acme.test")
    # In a window of the last 10 posts the Try run is judged on fewer posts.
    page = what_if(lead, world, account=world.account_id, value="care", count=1, window=10)
    assert page.status_code == 200
    assert "of 10" in page.text and "of 20" not in page.text


def test_bad_input_is_shown_at_the_field(world, engine, make_client):
    publish_history(engine, world, (10, 4, 3, 3))
    lead = make_client("lead@acme.test")
    page = what_if(lead, world, account=world.account_id, value="care", count=0)
    assert page.status_code == 422
    assert 'id="what-if-count-error">Choose 1 to 10 posts.<' in page.text
    assert re.search(r'id="what-if-count"[^>]*aria-invalid="true"', page.text)
    page = what_if(lead, world, account=world.account_id, value="fun", count=1)
    assert page.status_code == 422 and "Pick a value: Try, Share, Care or Learn." in page.text
    # Another workspace's account is not one to pick (and nothing about it is shown).
    page = what_if(lead, world, account=world.other_account_id, value="care", count=1)
    assert page.status_code == 422 and "Pick one of this workspace&#39;s accounts." in page.text
    assert "@other" not in page.text
    assert "Traceback" not in page.text


def test_nothing_is_saved_and_it_works_without_htmx(world, engine, make_client):
    publish_history(engine, world, (10, 4, 3, 3))
    with session_scope(engine) as s:
        before = s.exec(select(func.count()).select_from(Publication)).one()
    lead = make_client("lead@acme.test")
    page = lead.get(f"/w/{world.slug}/balance/what-if",
                    params={"account": world.account_id, "value": "care", "count": 3})
    assert page.status_code == 200
    assert "<html" in page.text and 'id="balance-view"' in page.text  # the whole page
    assert "the Try new things overweight warning clears" in page.text
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(Publication)).one() == before


def test_the_balance_page_offers_the_what_if(world, engine, make_client):
    publish_history(engine, world, (10, 4, 3, 3))
    page = make_client("viewer@acme.test").get(f"/w/{world.slug}/balance")
    assert page.status_code == 200
    assert 'hx-get="/w/acme-bikes/balance/what-if"' in page.text
    assert 'hx-include="#balance-view form.filters"' in page.text
    # The "what next" says whether it follows balance or resonance.
    assert re.search(r'data-follows="(balance|resonance)"><strong>What next:</strong> '
                     r'Following (balance|resonance)', page.text)
