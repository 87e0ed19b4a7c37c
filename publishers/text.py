"""Per-platform text length rules in one place: the composer's live counters and validation.

Every platform counts differently: X weights characters (twitter-text v3), Mastodon counts
graphemes with every URL as 23, Bluesky limits both graphemes and UTF-8 bytes, the rest count
characters. ``count()`` answers for any platform with the same ``TextCount`` shape.
"""

from __future__ import annotations

import importlib.resources
import sys
import types
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import regex

MASTODON_DEFAULT_LIMIT = 500
URL_WEIGHT = 23
INSTAGRAM_MAX_HASHTAGS = 30

# platform -> (limit, unit). None = no limit.
LIMITS: dict[str, tuple[int | None, str]] = {
    "x": (280, "weighted characters"),
    "mastodon": (MASTODON_DEFAULT_LIMIT, "characters"),
    "bluesky": (300, "characters"),
    "linkedin": (3000, "characters"),
    "facebook": (63206, "characters"),
    "instagram": (2200, "characters"),
    "threads": (500, "characters (emoji count as their bytes)"),
    "webhook": (None, "characters"),
}
BLUESKY_MAX_BYTES = 3000
# https://developers.facebook.com/documentation/threads/posts ("Limitations": 500 characters,
# emojis counted as the number of UTF-8 bytes) and .../create-posts/text-attachments (at most
# 5 unique links, else THREADS_API__LINK_LIMIT_EXCEEDED at container creation).
THREADS_MAX_LINKS = 5

_GRAPHEME = regex.compile(r"\X")
# A keycap: digit, # or * with optional VS16, then COMBINING ENCLOSING KEYCAP.
_KEYCAP = regex.compile("[0-9#*]\ufe0f?\u20e3")
_KEYCAP_STAND_IN = "\U0001f51f"  # KEYCAP TEN: one code point twitter-text always weighs 2
# Mastodon's own URL rule: a scheme is required (bare domains count in full).
_MASTODON_URL = regex.compile(r"(?<![\w/.@])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]", regex.I)
# A remote mention counts only as "@user": the domain part is free on Mastodon.
_MASTODON_MENTION_DOMAIN = regex.compile(r"(?<![\w/])(@\w+)@[\w.-]+\w", regex.UNICODE)
_HASHTAG = regex.compile(r"(?<![\w&])#(\w+)", regex.UNICODE)
# A grapheme that shows as an emoji: a pictograph, a flag, a keycap.
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3")


@dataclass(frozen=True)
class TextCount:
    used: int
    limit: int | None
    remaining: int | None
    unit: str
    over: bool
    problems: tuple[str, ...] = field(default_factory=tuple)


def graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@lru_cache(maxsize=1)
def _twitter_text() -> Any:
    """Import twitter-text, working around its use of pkg_resources (gone from setuptools 81).

    Its emoji table is read with ``pkg_resources.resource_string`` at import time only, so a
    stand-in module is enough, and it is removed again right after the import.
    """
    shim_installed = False
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")

        def resource_string(module: str, name: str) -> bytes:
            package = module if module.endswith("__init__") else module.rpartition(".")[0]
            return importlib.resources.files(package).joinpath(name).read_bytes()

        shim.resource_string = resource_string  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
        shim_installed = True
    try:
        import twitter_text
    finally:
        if shim_installed:
            sys.modules.pop("pkg_resources", None)
    return twitter_text


def x_weighted_length(text: str) -> int:
    """X's weighted length (twitter-text v3): URLs 23, emoji and CJK 2, most Latin 1.

    Keycap sequences (1️⃣, #️⃣) are swapped for a single-code-point emoji first: some
    twitter-text ports miss the keycap pattern and count digit + VS16 + U+20E3 as 4, while X
    counts 2. The swap makes the answer independent of the library's emoji table.
    """
    if not text:
        return 0
    normalized = _KEYCAP.sub(_KEYCAP_STAND_IN, text)
    parsed = _twitter_text().parse_tweet(normalized)
    return int(parsed.weightedLength)


def x_urls(text: str) -> list[str]:
    """URLs as X sees them, including bare domains like example.com/path."""
    return [str(entity["url"]) for entity in _twitter_text().extract_urls_with_indices(text)]


def mastodon_length(text: str) -> int:
    """Graphemes, every http(s) URL counted as 23, remote mentions without their domain."""
    text = _MASTODON_MENTION_DOMAIN.sub(r"\1", text)
    total = 0
    position = 0
    for match in _MASTODON_URL.finditer(text):
        total += graphemes(text[position:match.start()]) + URL_WEIGHT
        position = match.end()
    return total + graphemes(text[position:])


def threads_length(text: str) -> int:
    """Threads' count: one per character, but an emoji counts as its UTF-8 bytes (a 🍵 is 4,
    a family emoji joined by ZWJs is 25)."""
    return sum(len(g.encode("utf-8")) if _EMOJI.search(g) else 1
               for g in _GRAPHEME.findall(text))


def threads_links(text: str) -> list[str]:
    """The unique links Threads counts in a text: every http(s) URL, and bare domains
    (www.example.com) as twitter-text finds them (known top-level domains only)."""
    with_scheme = [m.group() for m in _MASTODON_URL.finditer(text)]
    rest = _MASTODON_URL.sub(" ", text)
    return list(dict.fromkeys(with_scheme + x_urls(rest)))


def hashtags(text: str) -> list[str]:
    return _HASHTAG.findall(text)


def count(platform: str, text: str, *, limit_override: int | None = None) -> TextCount:
    """How much of the platform's limit ``text`` uses; ``over`` when it cannot be sent.

    ``limit_override`` replaces the platform default (a Mastodon instance's own limit).
    """
    if platform not in LIMITS:
        raise ValueError(f"unknown platform {platform!r}")
    default_limit, unit = LIMITS[platform]
    limit = limit_override if limit_override is not None else default_limit
    problems: list[str] = []
    if platform == "x":
        used = x_weighted_length(text)
    elif platform == "mastodon":
        used = mastodon_length(text)
    elif platform == "threads":
        used = threads_length(text)
        links = len(threads_links(text))
        if links > THREADS_MAX_LINKS:
            problems.append(f"Threads allows at most {THREADS_MAX_LINKS} links in a post; "
                            f"this has {links}.")
    else:
        used = graphemes(text)
    if platform == "bluesky":
        size = utf8_len(text)
        if size > BLUESKY_MAX_BYTES:
            problems.append(
                f"Bluesky allows {BLUESKY_MAX_BYTES} bytes of text; this is {size} bytes "
                f"(emoji and non-Latin letters take several bytes each)."
            )
    if platform == "instagram":
        tags = len(hashtags(text))
        if tags > INSTAGRAM_MAX_HASHTAGS:
            problems.append(
                f"Instagram allows at most {INSTAGRAM_MAX_HASHTAGS} hashtags; this has {tags}."
            )
    if limit is not None and used > limit:
        problems.insert(0, f"Too long for {platform}: {used} of {limit} {unit}; "
                           f"cut {used - limit}.")
    remaining = None if limit is None else limit - used
    return TextCount(used=used, limit=limit, remaining=remaining, unit=unit,
                     over=bool(problems), problems=tuple(problems))
