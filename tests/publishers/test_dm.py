from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publishers.base import AccountRef, Content, DmPrompt
from publishers.dm import final_text, preview, render_prompt, text_problems, with_utm

PROMPT = DmPrompt(keyword="GLOW", product_url="https://shop.example/serum?size=50ml#buy",
                  prefill="Hi! GLOW please")


def acct(platform: str, **kw: str) -> AccountRef:
    return AccountRef(platform=platform, handle=kw.pop("handle", "poise"), api_base="",
                      external_id=kw.pop("external_id", ""), credentials=kw)


def content(text: str = "New serum is here.", **kw: object) -> Content:
    return Content(text=text, dm_prompt=PROMPT, utm_campaign="spring", post_ref="p42",
                   **kw)  # type: ignore[arg-type]


class TestUtm:
    def test_adds_utm_and_keeps_existing_params_and_fragment(self) -> None:
        url = with_utm("https://shop.example/serum?size=50ml&color=red#buy", source="x",
                       campaign="spring", content="p42")
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert query == {"size": ["50ml"], "color": ["red"], "utm_source": ["x"],
                         "utm_medium": ["social"], "utm_campaign": ["spring"],
                         "utm_content": ["p42"]}
        assert parts.fragment == "buy"
        assert url.startswith("https://shop.example/serum?size=50ml&color=red&utm_source=x")

    def test_replaces_same_named_utm_but_keeps_them_when_ours_is_empty(self) -> None:
        url = with_utm("https://s.example/?utm_source=old&utm_campaign=keep", source="mastodon")
        query = parse_qs(urlsplit(url).query)
        assert query["utm_source"] == ["mastodon"]
        assert query["utm_campaign"] == ["keep"]

    @given(st.dictionaries(st.text(min_size=1, max_size=8).filter(
        lambda k: not k.startswith("utm_")), st.text(max_size=8), max_size=4))
    def test_existing_params_survive(self, params: dict[str, str]) -> None:
        from urllib.parse import parse_qsl, urlencode
        url = "https://s.example/p?" + urlencode(params)
        tagged = with_utm(url, source="x", campaign="c")
        kept = dict(parse_qsl(urlsplit(tagged).query, keep_blank_values=True))
        assert {k: kept[k] for k in params} == params


class TestDeepLinks:
    def test_x_compose_link_with_encoded_prefill(self) -> None:
        rendered = render_prompt(content(), acct("x", external_id="1234567"))
        assert rendered is not None
        assert rendered.deep_link == ("https://twitter.com/messages/compose?recipient_id=1234567"
                                      "&text=Hi%21%20GLOW%20please")

    def test_instagram_ig_me_with_ref(self) -> None:
        rendered = render_prompt(content(), acct("instagram", handle="@poise.shop"))
        assert rendered is not None
        assert rendered.deep_link == "https://ig.me/m/poise.shop?ref=GLOW_p42"

    def test_messenger_link(self) -> None:
        rendered = render_prompt(content(), acct("facebook", handle="poisepage"))
        assert rendered is not None
        assert rendered.deep_link == ("https://m.me/poisepage?ref=GLOW_p42"
                                      "&text=Hi%21%20GLOW%20please")

    def test_whatsapp_where_the_account_has_a_number(self) -> None:
        rendered = render_prompt(content(), acct("mastodon", whatsapp_number="+48 600-100-200"))
        assert rendered is not None
        assert rendered.deep_link == "https://wa.me/48600100200?text=Hi%21%20GLOW%20please"

    def test_prefill_with_ampersand_and_unicode_is_encoded(self) -> None:
        prompt = DmPrompt(keyword="GLOW", product_url="https://s.example/", prefill="A&B zażółć")
        rendered = render_prompt(Content(text="t", dm_prompt=prompt), acct("x", external_id="1"))
        assert rendered is not None
        query = parse_qs(urlsplit(rendered.deep_link).query)
        assert query["text"] == ["A&B zażółć"]
        assert "&B" not in rendered.deep_link

    def test_product_url_is_tagged_per_platform(self) -> None:
        rendered = render_prompt(content(), acct("bluesky"))
        assert rendered is not None
        query = parse_qs(urlsplit(rendered.product_url).query)
        assert query["utm_source"] == ["bluesky"] and query["utm_content"] == ["p42"]


class TestFinalText:
    def test_cta_and_link_appended(self) -> None:
        text = final_text(content(), acct("x", external_id="1234567"))
        assert text.startswith("New serum is here.\n\nDM us GLOW for the link https://twitter")

    def test_platform_without_dm_link_gets_tagged_product_link(self) -> None:
        text = final_text(content(), acct("mastodon"))
        assert "DM us GLOW for the link https://shop.example/serum?size=50ml&utm_source=" in text

    def test_custom_call_to_action(self) -> None:
        prompt = DmPrompt(keyword="GLOW", product_url="https://s.example/",
                          call_to_action="Message us GLOW!")
        text = final_text(Content(text="Hi", dm_prompt=prompt), acct("instagram"))
        assert text == "Hi\n\nMessage us GLOW! https://ig.me/m/poise?ref=GLOW"

    def test_link_in_text_is_replaced_by_its_tagged_form(self) -> None:
        c = Content(text="Read https://blog.example/a now", link="https://blog.example/a",
                    utm_campaign="c1", post_ref="p1")
        text = final_text(c, acct("mastodon"))
        assert text == ("Read https://blog.example/a?utm_source=mastodon&utm_medium=social"
                        "&utm_campaign=c1&utm_content=p1 now")

    def test_link_is_not_appended_where_it_is_a_separate_field(self) -> None:
        c = Content(text="Read this", link="https://blog.example/a")
        assert final_text(c, acct("facebook")) == "Read this"
        assert final_text(c, acct("bluesky")).startswith("Read this\n\nhttps://blog.example/a?")

    def test_no_prompt_no_change(self) -> None:
        assert final_text(Content(text="plain "), acct("x")) == "plain"


class TestLimits:
    def test_problem_says_how_much_to_cut_including_the_cta(self) -> None:
        c = content(text="a" * 250)
        problems = text_problems(c, acct("x", external_id="1"))
        assert len(problems) == 1
        message = problems[0].message
        # 250 + 2 newlines + "DM us GLOW for the link " (24) + URL (23) = 299 -> cut 19
        assert "cut 19" in message and "call to action" in message

    def test_fits_without_problem(self) -> None:
        assert text_problems(content(), acct("x", external_id="1")) == []

    def test_x_needs_numeric_id_for_dm_link(self) -> None:
        problems = text_problems(content(), acct("x", external_id="poise"))
        assert [p.field for p in problems] == ["dm_prompt"]

    @pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky", "threads", "instagram"])
    def test_preview_equals_what_is_sent(self, platform: str) -> None:
        account = acct(platform, external_id="1")
        shown = preview(content(), account)
        assert shown.text == final_text(content(), account)
        assert shown.count.used > len("New serum is here.")


class TestTrackedLinks:
    SHORT_PRODUCT = "https://poise.example/r/abc123XYZ"
    SHORT_LINK = "https://poise.example/r/def456UVW"

    def tracked(self, text: str) -> Content:
        return content(text, link="https://brand.example/guide", tracked_links=(
            (PROMPT.product_url, self.SHORT_PRODUCT),
            ("https://brand.example/guide", self.SHORT_LINK)))

    def test_short_links_go_out_instead_of_the_tagged_originals(self) -> None:
        sent = final_text(self.tracked("Read https://brand.example/guide first."),
                          acct("mastodon"))
        assert f"Read {self.SHORT_LINK} first." in sent
        assert sent.endswith(f"DM us GLOW for the link {self.SHORT_PRODUCT}")
        assert "utm_" not in sent and "shop.example" not in sent

    def test_the_dm_reply_link_is_the_tracked_one_too(self) -> None:
        rendered = render_prompt(self.tracked("x"), acct("x", external_id="123"))
        assert rendered is not None and rendered.product_url == self.SHORT_PRODUCT
        assert rendered.deep_link.startswith("https://twitter.com/messages/compose")

    def test_untracked_urls_still_get_utm(self) -> None:
        sent = final_text(content("Hello", link="https://other.example/"), acct("bluesky"))
        assert "https://other.example/?utm_source=bluesky" in sent
