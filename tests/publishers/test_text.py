from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publishers.text import LIMITS, count, graphemes, x_weighted_length

FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👩‍👩‍👧‍👦
FLAG_PL = "\U0001f1f5\U0001f1f1"  # 🇵🇱
KEYCAP_1 = "1\ufe0f\u20e3"  # 1️⃣
E_COMBINING = "e\u0301"  # é as two code points


class TestGraphemes:
    @pytest.mark.parametrize("text, expected", [
        (FAMILY, 1), (FLAG_PL, 1), (KEYCAP_1, 1), (E_COMBINING, 1), ("日本語", 3),
        ("a" + FAMILY + "b", 3),
    ])
    def test_user_perceived_characters(self, text: str, expected: int) -> None:
        assert graphemes(text) == expected


class TestX:
    @pytest.mark.parametrize("text, expected", [
        ("hello", 5),
        (FAMILY, 2),
        (FLAG_PL, 2),
        (KEYCAP_1, 2),
        ("#\ufe0f\u20e3", 2),
        ("1\u20e3", 2),  # unqualified keycap
        (KEYCAP_1 * 3, 6),
        ("日本語", 6),
        (E_COMBINING, 1),  # NFC makes it one Latin letter
        ("https://example.com/a/very/long/path/that/goes/on/and/on", 23),
        ("example.com/path", 23),  # no scheme, still a URL on X
        ("see example.com/path " + FAMILY, 4 + 23 + 1 + 2),
    ])
    def test_weighted_length(self, text: str, expected: int) -> None:
        assert x_weighted_length(text) == expected

    def test_limit_and_problem_says_how_much_to_cut(self) -> None:
        result = count("x", "日" * 141)
        assert (result.used, result.limit, result.remaining, result.over) == (282, 280, -2, True)
        assert "cut 2" in result.problems[0]

    def test_exactly_at_limit_is_fine(self) -> None:
        assert not count("x", "a" * 280).over

    @given(st.integers(min_value=0, max_value=60))
    def test_keycaps_always_weigh_two(self, n: int) -> None:
        assert x_weighted_length(KEYCAP_1 * n) == 2 * n


class TestMastodon:
    def test_urls_count_23_whatever_their_length(self) -> None:
        url = "https://example.com/" + "x" * 100
        assert count("mastodon", f"look {url}").used == 5 + 23

    def test_bare_domain_counts_in_full(self) -> None:
        assert count("mastodon", "example.com/path").used == len("example.com/path")

    def test_graphemes_and_remote_mentions(self) -> None:
        assert count("mastodon", FAMILY + FLAG_PL + E_COMBINING).used == 3
        assert count("mastodon", "hi @bob@mastodon.social").used == len("hi @bob")

    def test_instance_limit_overrides_default(self) -> None:
        assert count("mastodon", "a" * 600).over
        assert not count("mastodon", "a" * 600, limit_override=1000).over
        assert count("mastodon", "a", limit_override=1000).limit == 1000


class TestBluesky:
    def test_300_graphemes(self) -> None:
        assert not count("bluesky", "é" * 300).over  # 300 graphemes, 600 bytes
        assert count("bluesky", "a" * 301).over

    def test_3000_bytes_even_under_300_graphemes(self) -> None:
        result = count("bluesky", FAMILY * 200)
        assert result.used == 200
        assert result.over
        assert "bytes" in result.problems[0]


class TestOthers:
    def test_instagram_hashtags(self) -> None:
        text = " ".join(f"#tag{i}" for i in range(31))
        result = count("instagram", text)
        assert result.over and "30 hashtags" in result.problems[0]
        assert not count("instagram", " ".join(f"#t{i}" for i in range(30))).over

    @pytest.mark.parametrize("platform, limit", [
        ("linkedin", 3000), ("instagram", 2200), ("threads", 500), ("facebook", 63206)])
    def test_limits(self, platform: str, limit: int) -> None:
        assert count(platform, "a" * limit).remaining == 0
        assert count(platform, "a" * (limit + 1)).over

    def test_webhook_unlimited(self) -> None:
        result = count("webhook", "a" * 100_000)
        assert (result.limit, result.remaining, result.over) == (None, None, False)

    def test_unknown_platform(self) -> None:
        with pytest.raises(ValueError):
            count("myspace", "hi")

    def test_every_platform_has_a_limit_entry(self) -> None:
        import publishers
        assert set(publishers.BUILTIN_PLATFORMS) == set(LIMITS)
        assert set(publishers.BUILTIN_PLATFORMS) <= set(publishers.platforms())


class TestThreads:
    """https://developers.facebook.com/documentation/threads/posts: 500 characters, emojis
    counted as their UTF-8 bytes; text-attachments page: at most 5 unique links."""

    def test_emoji_count_as_their_bytes(self) -> None:
        assert count("threads", "tea \U0001f375").used == 4 + 4
        family = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
        assert count("threads", family).used == 25
        assert count("threads", "zażółć").used == 6  # letters stay one each

    def test_a_text_of_emoji_goes_over_sooner(self) -> None:
        assert not count("threads", "a" * 500).over
        over = count("threads", "\U0001f375" * 126)  # 126 graphemes, 504 bytes
        assert over.over and over.used == 504

    def test_at_most_five_links(self) -> None:
        five = " ".join(f"https://shop.example/{n}" for n in range(5))
        assert not count("threads", five).over
        six = five + " www.example.org"
        assert count("threads", six).over
        assert "at most 5 links" in count("threads", six).problems[0]
        assert not count("threads", five + " https://shop.example/0").over  # unique links
