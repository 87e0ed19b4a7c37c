"""Issue 14: previews look like each network, Approve waits on Review while a target is too
long, the post's page carries the conversation, and Duplicate has an API route."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from webhelpers import page_csrf

from planner import accounts, posts
from planner.db import session_scope
from planner.models import (
    Account,
    Membership,
    Notification,
    Post,
    PostStatus,
    Role,
    User,
    Workspace,
)
from planner.posts import looks
from planner.team import users

# --- the fold, the card, the name: pure ---------------------------------------------------------


@pytest.mark.parametrize("platform", sorted(looks.LOOKS))
def test_the_fold_never_changes_the_text(platform):
    look = looks.look_of(platform)
    for text in ("short", "🇵🇱 " * 400, "a\nb\nc\nd\ne " + "word " * 200, "新しい味" * 300,
                 "x" * 1000):
        head, tail = looks.fold(text, look)
        assert head + tail == text
        if look.fold_chars is None:
            assert tail == ""


def test_instagram_folds_at_three_lines_or_125_characters():
    look = looks.look_of("instagram")
    head, tail = looks.fold("one\ntwo\nthree\nfour", look)
    assert (head, tail) == ("one\ntwo\nthree", "\nfour")
    head, tail = looks.fold("word " * 60, look)
    assert 100 <= len(head) <= 125 and head.endswith(" ") and tail
    assert looks.fold("a" * 125, look) == ("a" * 125, "")


def test_a_flag_is_never_cut_in_half():
    head, _ = looks.fold("🇵🇱" * 300, looks.look_of("linkedin"))
    assert len(head) % 2 == 0 and head == "🇵🇱" * (len(head) // 2)


def test_cards_follow_what_each_network_makes():
    short = "http://poise.test/r/abcdefghi"
    dest = {short: "https://www.shop.example/tonic?size=1"}
    text = f"New tonic {short}"
    card = looks.card_for(looks.look_of("mastodon"), text=text, link=short, has_image=False,
                          destinations=dest)
    assert card is not None and card.host == "shop.example" and card.url == short
    # An image replaces the card; Instagram and LinkedIn (API posts) make none.
    assert looks.card_for(looks.look_of("x"), text=text, link=short, has_image=True,
                          destinations=dest) is None
    for platform in ("instagram", "linkedin", "webhook"):
        assert looks.card_for(looks.look_of(platform), text=text, link=short,
                              has_image=False, destinations=dest) is None
    shown = looks.feed_preview(platform="instagram", handle="brand", display_name="",
                               text=text, link=short, has_image=False, destinations=dest)
    assert "not clickable" in shown.card_note and shown.handle == "@brand"
    assert shown.name == "brand" and shown.initial == "B"


# --- the composer's cards -------------------------------------------------------------------------

def _future_local(days=10):
    local = (datetime.now(UTC) + timedelta(days=days)).astimezone(ZoneInfo("Europe/Warsaw"))
    return local.strftime("%Y-%m-%dT09:30")


def _account(world, platform, handle, display_name=""):
    with session_scope() as s:
        account = accounts.create_account(session=s, workspace_id=world.workspace_id,
                                          platform=platform, handle=handle)
        account.display_name = display_name
        return account.id


def _cards(page: str) -> dict[str, str]:
    found = re.findall(r'(<div class="preview feed feed-(\w+).*?)(?=<div class="preview feed|\Z)',
                       page, flags=re.S)
    return {platform: chunk for chunk, platform in found}


def test_composer_cards_show_name_handle_card_and_fold(world, make_client):
    insta = _account(world, "instagram", "bikes.acme", '<img src=x onerror=alert(1)> Acme')
    c = make_client("manager@acme.test")
    token = page_csrf(c, f"/w/{world.slug}/posts/new")
    text = "Spring service week: " + "bring your bike, we check brakes and gears. " * 5
    r = c.post(f"/w/{world.slug}/compose/preview", headers={"X-CSRF-Token": token}, data={
        "text": text, "link": "https://www.acme-bikes.example/service",
        "account_ids": [str(world.account_id), str(insta)]})
    assert r.status_code == 200
    cards = _cards(r.text)
    mastodon, instagram = cards["mastodon"], cards["instagram"]
    # Mastodon: the handle, no fold, a card naming the page the short link leads to.
    assert "@acme@bikes.social" in mastodon and "data-fold" not in mastodon
    assert 'data-card-host="acme-bikes.example"' in mastodon
    # Instagram: the account's own (escaped) name, the fold, no card, and why.
    assert "<img src=x" not in r.text
    assert "&lt;img src=x onerror=alert(1)&gt; Acme" in instagram and "@bikes.acme" in instagram
    assert "data-fold" in instagram and "… more" in instagram
    assert "data-card-host" not in instagram
    assert "links in captions are not clickable" in instagram
    # What is shown, head and tail together, is exactly the text as sent.
    head = re.search(r'class="feed-head">(.*?)</span>', instagram, re.S).group(1)
    tail = re.search(r'class="feed-tail" hidden>(.*?)</span>', instagram, re.S).group(1)
    with session_scope() as s:
        from planner.posts import textrules

        draft = Post(workspace_id=world.workspace_id, text=text,
                     link="https://www.acme-bikes.example/service")
        sent = textrules.as_sent(post=draft, publication=None,
                                 account=s.get(Account, insta), session=s).text
    assert html.unescape(head + tail) == sent
    # The counters beside the text box still come with it (out of band).
    assert 'id="counters"' in r.text and 'hx-swap-oob="true"' in r.text


# --- Review: Approve waits while a target is too long ------------------------------------------

def _actor(s, world, email):
    user = s.exec(select(User).where(User.email == email)).one()
    role = s.exec(select(Membership.role).where(
        Membership.user_id == user.id, Membership.workspace_id == world.workspace_id)).one()
    return posts.Actor(user_id=user.id, role=Role(role),
                       workspace=s.get(Workspace, world.workspace_id))


def _in_review(world, text="Chain care in three steps"):
    now = datetime.now(UTC)
    with session_scope() as s:
        manager = _actor(s, world, "manager@acme.test")
        post = posts.create_post(session=s, actor=manager, now=now, data=posts.PostInput(
            text=text, account_ids=[world.account_id], tags=["learn"],
            scheduled_local=_future_local()))
        post = posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                       expected_version=post.version, now=now)
        return post.id, post.version


def test_review_disables_approve_for_a_post_over_its_limit_and_the_server_refuses(
        world, make_client):
    post_id, version = _in_review(world, "Chain care in three steps, with pictures")
    lead = make_client("lead@acme.test")
    card = lead.get(f"/w/{world.slug}/review").text.split(f'id="review-{post_id}"')[1]
    assert "disabled" not in card.split("Request changes")[0]
    with session_scope() as s:  # the instance lowered its limit after the post was submitted
        s.get(Account, world.account_id).text_limit = 20
    page = lead.get(f"/w/{world.slug}/review").text
    card = page.split(f'id="review-{post_id}"')[1].split("</article>")[0]
    assert "Too long for @acme@bikes.social as it will be sent" in card
    assert re.search(r'<button type="submit" class="primary" disabled', card)
    token = page_csrf(lead, f"/w/{world.slug}/review")
    r = lead.post(f"/w/{world.slug}/posts/{post_id}/approve", headers={"X-CSRF-Token": token},
                  data={"version": str(version), "return_to": "review"})
    assert r.status_code == 422
    with session_scope() as s:
        assert s.get(Post, post_id).status == PostStatus.in_review


# --- the conversation on the post's page -----------------------------------------------------

def test_author_sees_the_thread_and_answers_with_a_mention(world, make_client):
    post_id, version = _in_review(world)
    with session_scope() as s:
        posts.request_changes(session=s, actor=_actor(s, world, "lead@acme.test"),
                              post_id=post_id, expected_version=version,
                              comment="Name the <b>lube</b> brand", now=datetime.now(UTC))
        users.create_user(session=s, email="ola@acme.test", password="x" * 12, name="Ola Nowak")
        ola = s.exec(select(User).where(User.email == "ola@acme.test")).one()
        ws = s.get(Workspace, world.workspace_id)
        users.add_member(session=s, workspace=ws, user=ola, role=Role.manager)
        lead_id, ola_id = (s.exec(select(User.id).where(User.email == "lead@acme.test")).one(),
                           ola.id)
    author = make_client("manager@acme.test")
    page = author.get(f"/w/{world.slug}/posts/{post_id}").text
    thread = page.split('id="thread"')[1].split("</section>")[0]
    assert "asked for changes" in thread and "Name the &lt;b&gt;lube&lt;/b&gt; brand" in thread
    token = page_csrf(author, f"/w/{world.slug}/posts/{post_id}")
    r = author.post(f"/w/{world.slug}/posts/{post_id}/comment", follow_redirects=False,
                    data={"csrf_token": token, "comment": "  "})
    assert r.status_code == 422 and "Write a comment first." in r.text
    r = author.post(f"/w/{world.slug}/posts/{post_id}/comment", follow_redirects=False,
                    data={"csrf_token": token, "comment": "Done. @ola can you check the photo?"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/posts/{post_id}#thread")
    thread = author.get(f"/w/{world.slug}/posts/{post_id}").text.split('id="thread"')[1]
    assert "commented" in thread and "Done. @ola can you check the photo?" in thread
    with session_scope() as s:
        kinds = {(n.user_id, n.kind) for n in s.exec(select(Notification))}
    assert (ola_id, "comment.mention") in kinds and (lead_id, "post.commented") in kinds
    # A viewer reads the thread but cannot write in it.
    viewer = make_client("viewer@acme.test")
    page = viewer.get(f"/w/{world.slug}/posts/{post_id}").text
    assert "Done. @ola" in page and "/comment" not in page
    r = viewer.post(f"/w/{world.slug}/posts/{post_id}/comment",
                    data={"csrf_token": page_csrf(viewer, f"/w/{world.slug}/posts/{post_id}"),
                          "comment": "hi"})
    assert r.status_code == 403


# --- Duplicate through the API ---------------------------------------------------------------

def _token(email):
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="test").secret


def test_duplicate_through_the_api(world, client):
    post_id, _ = _in_review(world)

    def call(path, email="manager@acme.test"):
        return client.post(f"/api/v1/workspaces/{world.workspace_id}{path}",
                           headers={"Authorization": f"Bearer {_token(email)}"})

    r = call(f"/posts/{post_id}/duplicate")
    assert r.status_code == 201, r.text
    copy = r.json()
    assert copy["id"] != post_id and copy["status"] == "draft"
    assert copy["text"] == "Chain care in three steps" and copy["tags"] == ["learn"]
    assert [p["account_id"] for p in copy["publications"]] == [world.account_id]
    r = call(f"/posts/{post_id}/duplicate", email="viewer@acme.test")
    assert r.status_code == 403 and r.headers["content-type"].startswith(
        "application/problem+json")
    r = call("/posts/999999/duplicate")
    assert r.status_code == 404 and r.json()["status"] == 404
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/workspaces/{workspace_id}/posts/{post_id}/duplicate"]["post"]
    assert "201" in op["responses"] and "403" in op["responses"]


def test_urls_show_as_links_except_where_the_network_does_not_link_them():
    text = "See https://shop.example/a. And http://x.test/r/abc"
    linked = looks.parts(text, True)
    assert "".join(p for p, _ in linked) == text
    assert [p for p, is_link in linked if is_link] == ["https://shop.example/a",
                                                        "http://x.test/r/abc"]
    shown = looks.feed_preview(platform="instagram", handle="b", display_name="B", text=text,
                               link="", has_image=False, destinations={})
    assert not any(is_link for _, is_link in shown.head_parts + shown.tail_parts)


def test_comments_through_the_api(world, client):
    post_id, _ = _in_review(world)
    base = f"/api/v1/workspaces/{world.workspace_id}/posts/{post_id}/comments"

    def auth(email):
        return {"Authorization": f"Bearer {_token(email)}"}

    r = client.post(base, json={"comment": "@lead is the photo fine?"},
                    headers=auth("manager@acme.test"))
    assert r.status_code == 201, r.text
    assert r.json()["decision"] == "comment" and r.json()["author_name"]
    r = client.post(base, json={"comment": " "}, headers=auth("manager@acme.test"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["comment"]
    assert client.post(base, json={"comment": "hi"},
                       headers=auth("viewer@acme.test")).status_code == 403
    listed = client.get(base, headers=auth("viewer@acme.test")).json()
    assert [c["comment"] for c in listed] == ["@lead is the photo fine?"]
    with session_scope() as s:
        lead = s.exec(select(User).where(User.email == "lead@acme.test")).one()
        assert s.exec(select(Notification).where(Notification.user_id == lead.id,
                                                 Notification.kind == "comment.mention")).one()
