"""Tracked links: one code per publication and URL, a redirect that counts people, not bots."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from planner.conversions import contacts, links
from planner.db import session_scope
from planner.models import Publication
from planner.models_conversions import Touchpoint

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130 Safari/537.36"


def _link(engine, conv, key="x-try", url="https://shop.acme.test/glow?ref=a#top") -> str:
    with session_scope(engine) as s:
        return links.tracked_link_for(s, s.get(Publication, conv.pub[key]), url)


def _code(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def _sessions(engine) -> list[Touchpoint]:
    with session_scope(engine) as s:
        return list(s.exec(select(Touchpoint)).all())


class TestTrackedLinkFor:
    def test_same_publication_and_url_give_the_same_code(self, engine, conv):
        first, again = _link(engine, conv), _link(engine, conv)
        assert first == again
        assert first.startswith("http://127.0.0.1:8000/r/")
        assert links.CODE_RE.match(_code(first)) and 8 <= len(_code(first)) <= 10

    def test_other_publication_or_url_gets_another_code(self, engine, conv):
        base = _link(engine, conv)
        assert _link(engine, conv, key="ig-try") != base
        assert _link(engine, conv, url="https://shop.acme.test/other") != base

    def test_refuses_non_http_urls(self, engine, conv):
        from planner.errors import Invalid

        with pytest.raises(Invalid):
            _link(engine, conv, url="javascript:alert(1)")


class TestRedirect:
    def test_counts_a_session_and_sets_the_visitor_cookie(self, engine, conv, client):
        code = _code(_link(engine, conv))
        r = client.get(f"/r/{code}", headers={"User-Agent": BROWSER,
                                              "Referer": "https://t.co/abc"},
                       follow_redirects=False)
        assert r.status_code == 302
        target = urlsplit(r.headers["location"])
        assert (target.scheme, target.netloc, target.path) == ("https", "shop.acme.test", "/glow")
        query = parse_qs(target.query)
        assert query["utm_source"] == ["x"] and query["utm_medium"] == ["social"]
        assert query["utm_campaign"] == ["poise"] and query["utm_content"] == [str(conv.p_try)]
        assert query["ref"] == ["a"] and target.fragment == "top"
        # the shop reads the visitor id from its landing URL and sends it back with orders
        assert query["poise_vid"] == [r.cookies.get("poise_vid")]
        cookie = r.headers["set-cookie"].lower()
        assert "poise_vid=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert "max-age=31536000" in cookie
        [tp] = _sessions(engine)
        assert (tp.kind, tp.account_id, tp.publication_id, tp.post_id) == (
            "session", conv.x, conv.pub["x-try"], conv.p_try)
        assert tp.referrer == "https://t.co/abc" and tp.visitor_id

    def test_a_returning_visitor_keeps_its_id(self, engine, conv, client):
        code = _code(_link(engine, conv))
        client.get(f"/r/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        r = client.get(f"/r/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert "set-cookie" not in r.headers
        first, second = _sessions(engine)
        assert first.visitor_id == second.visitor_id

    @pytest.mark.parametrize("agent", [
        "Twitterbot/1.0", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0)", "Mozilla/5.0 (compatible; Discordbot/2.0)",
        "TelegramBot (like TwitterBot)", "WhatsApp/2.23.20.0", "Googlebot/2.1",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0)", "Some Spider", "",
        # the fediverse fetches a preview from every instance the post reaches
        "http.rb/5.1.1 (Mastodon/4.2.10; +https://mastodon.social/)",
        "http.rb/5.2.0 (Mastodon/4.3.0-nightly.2024-06-01; +https://fosstodon.org/)",
        "Pleroma 2.6.2; https://pleroma.example <admin@pleroma.example>",
        "Akkoma 3.13.2; https://akkoma.example <admin@akkoma.example>",
        "Misskey/2024.5.0 (https://misskey.io)",
        "gotosocial/0.15.0 (+https://gts.example)",
        # Bluesky's card fetcher and embed services
        "Mozilla/5.0 (compatible; Cardyb/1.1; +mailto:support@bsky.app)",
        "Iframely/1.3.1 (+https://iframely.com/docs/about) Atlassian",
        "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        # scripts and HTTP libraries
        "curl/8.5.0", "Wget/1.21.4", "python-requests/2.32.3", "Python-urllib/3.11",
        "python-httpx/0.27.0", "Python/3.11 aiohttp/3.9.5", "Go-http-client/1.1",
        "Go-http-client/2.0", "okhttp/4.12.0", "Java/17.0.9", "Apache-HttpClient/4.5.14 (Java/17)",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "undici", "axios/1.7.2",
        "libwww-perl/6.72", "Ruby", "PostmanRuntime/7.39.0",
    ])
    def test_bots_are_redirected_but_not_counted(self, engine, conv, client, agent):
        code = _code(_link(engine, conv))
        r = client.get(f"/r/{code}", headers={"User-Agent": agent}, follow_redirects=False)
        assert r.status_code == 302 and "set-cookie" not in r.headers
        assert "poise_vid" not in r.headers["location"]
        assert _sessions(engine) == []

    @pytest.mark.parametrize("agent", [
        BROWSER,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0",
        # in-app browsers of the platforms the posts go to: people, counted
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Mobile/15E148 Instagram 334.0.4.32.98 (iPhone15,2; iOS 17_5; en_US)",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Version/4.0 Chrome/126.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/469.0;]",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36 Mastodon for Android",
    ])
    def test_people_are_counted(self, agent):
        assert links.is_bot(agent) is False

    def test_head_requests_are_not_counted(self, engine, conv, client):
        code = _code(_link(engine, conv))
        r = client.head(f"/r/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert r.status_code == 302
        assert _sessions(engine) == []

    @pytest.mark.parametrize("code", ["nosuchcode", "abc", "../../etc", "a" * 40])
    def test_unknown_code_is_404(self, engine, conv, client, code):
        r = client.get(f"/r/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert r.status_code == 404
        assert "location" not in r.headers

    @pytest.mark.parametrize("query", ["?url=https://evil.test", "?next=//evil.test",
                                       "/https://evil.test"])
    def test_never_an_open_redirect(self, engine, conv, client, query):
        code = _code(_link(engine, conv))
        r = client.get(f"/r/{code}{query}", headers={"User-Agent": BROWSER},
                       follow_redirects=False)
        assert r.status_code in (302, 404)
        if r.status_code == 302:
            assert urlsplit(r.headers["location"]).netloc == "shop.acme.test"

    def test_sessions_join_the_contact_when_the_visitor_is_identified(self, engine, conv,
                                                                      client):
        code = _code(_link(engine, conv))
        r = client.get(f"/r/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        vid = r.cookies.get("poise_vid") or client.cookies.get("poise_vid")
        with session_scope(engine) as s:
            contact, created = contacts.identify(session=s, workspace_id=conv.workspace_id,
                                                 identities={"visitor": vid}, source="shop")
            cid = contact.id
        assert created
        client.get(f"/r/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert [t.contact_id for t in _sessions(engine)] == [cid, cid]
