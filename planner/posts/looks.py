"""How each network shows a post in its feed: the preview cards of the composer and Review.

The text of a card is always the ``as_sent`` text (``textrules.as_sent``), split in two at the
network's "see more" fold so that ``head + tail`` is exactly that text. The rest is what the
network adds around it: the account's name and handle, an initial in a coloured circle (never
a remote avatar), the image framed the way the feed frames it, and a link card where the
network makes one from the post's link.

Sources (each figure below says whether it is documented or an approximation):

- Instagram, fold: "only the first three lines of a caption will be displayed ... we recommend
  a caption of 125 characters or fewer" (help.instagram.com/1643471055915254). Image: feed
  photos between 1.91:1 and 4:5 (Instagram Help Center, "image sizes"; the Graph API refuses
  other ratios), so the frame clamps to that range. Links in captions are not clickable.
- LinkedIn, fold: three lines for organic posts (John Espirian, "See more breakpoints on
  LinkedIn posts", Sept 2024); about 210 characters on a phone. Approximation: LinkedIn
  publishes no figure. A link in the commentary gets no card through the Posts API: LinkedIn
  does not scrape URLs for API posts (Posts API, "Article post": title and thumbnail must be
  given), and Poise sends only the commentary.
- Facebook, fold: about 477 characters on the desktop feed (third-party counters, e.g.
  posthell.com/tools/facebook-character-counter). Approximation. Link card: Poise sends the
  link in the ``link`` field when there is no image (publishers/facebook.py), and Facebook
  builds the card from the page's Open Graph tags.
- X: a card from the first URL when the page has Twitter Card tags and no image is attached
  (developer.x.com .../cards/overview/summary-card-with-large-image: 2:1 image). Posts of up
  to 280 weighted characters are shown whole; longer posts (Premium) fold at 280 with
  "Show more". The 16:9 image frame is an approximation of the timeline's single-image crop.
- Mastodon: no fold (statuses are shown whole unless they carry a content warning); a
  preview card for the first link of a status without media (docs.joinmastodon.org/entities/
  PreviewCard). The 16:9 frame is an approximation of the web interface's media frame.
- Bluesky: no fold (300 graphemes at most). Poise attaches an ``app.bsky.embed.external``
  card for the post's link when there is no image (publishers/bluesky.py, lexicons/app/bsky/
  embed/external.json), titled with the site's host; images carry ``aspectRatio`` and are
  shown at their own ratio (tall ones cut at 4:5 here: approximation).
- Threads: no fold within its 500 characters (approximation); the first link of a post
  without media becomes a link preview (Threads API docs, "Posts: links").
- Webhook: plain text, nothing added.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import regex

_URL = re.compile(r"https?://[^\s<>\"']+")
_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True)
class Look:
    name: str  # the network as people call it
    fold_chars: int | None  # characters shown before the fold (None: no fold)
    fold_lines: int | None  # lines shown before the fold (None: no line rule)
    fold_label: str  # the network's own words for the fold
    fold_note: str  # where the figure comes from
    frame: str  # how the feed frames a single image (a CSS class: see app.css)
    frame_note: str
    card: str  # "text" (card from the first URL in the text), "link" (the post's link), ""
    card_note: str
    links_clickable: bool = True  # the feed shows URLs in the text as links


LOOKS: dict[str, Look] = {
    "x": Look("X", 280, None, "Show more",
              "X shows posts of up to 280 characters whole; longer ones fold at 280.",
              "frame-16x9", "Cropped to 16:9 like a single image in the timeline "
              "(approximation).", "text",
              "X makes this card from the page's card tags when no image is attached."),
    "mastodon": Look("Mastodon", None, None, "", "Mastodon shows the whole post.",
                     "frame-16x9", "Cropped to 16:9 like the web interface's media frame "
                     "(approximation).", "text",
                     "Mastodon makes a preview card from the first link when there is no "
                     "image."),
    "bluesky": Look("Bluesky", None, None, "", "Bluesky shows the whole post.",
                    "frame-own", "Shown at its own ratio; very tall images cut at 4:5 "
                    "(approximation).", "link",
                    "Poise attaches this link card (an external embed) when there is no "
                    "image."),
    "linkedin": Look("LinkedIn", 210, 3, "…see more",
                     "LinkedIn folds after three lines, about 210 characters on a phone "
                     "(approximation).", "frame-own", "Shown at its own ratio; very tall "
                     "images cut at 4:5 (approximation).", "",
                     "LinkedIn makes no card for a link sent through its API: it stays a "
                     "link in the text."),
    "facebook": Look("Facebook", 477, None, "See more",
                     "Facebook folds after about 477 characters (approximation).",
                     "frame-own", "Shown at its own ratio; very tall images cut at 4:5 "
                     "(approximation).", "link",
                     "Facebook makes this card from the link Poise sends beside the text "
                     "(not with an image)."),
    "instagram": Look("Instagram", 125, 3, "… more",
                      "Instagram shows three lines, about 125 characters "
                      "(help.instagram.com/1643471055915254).", "frame-ig",
                      "Framed between 1.91:1 and 4:5, the ratios Instagram's feed "
                      "allows.", "",
                      "Instagram makes no link card, and links in captions are not "
                      "clickable.", links_clickable=False),
    "threads": Look("Threads", None, None, "", "Threads shows the whole post "
                    "(approximation).", "frame-ig", "Framed between 1.91:1 and 4:5 "
                    "(approximation).", "text",
                    "Threads makes a link preview from the first link when there is no "
                    "image."),
    "webhook": Look("Webhook", None, None, "", "A webhook receives the whole text.",
                    "frame-own", "Sent as a file; no feed frames it.", "", "",
                    links_clickable=False),
}
PLAIN = LOOKS["webhook"]


@dataclass(frozen=True)
class LinkCard:
    url: str  # the address the network opens (the tracked short link as sent)
    host: str  # the site the card names (the destination, after the short link)
    initial: str


@dataclass(frozen=True)
class FeedPreview:
    platform: str
    look: Look
    name: str
    handle: str
    initial: str
    colour: int  # 0..7: one of the avatar colours in app.css
    head: str  # the text above the fold
    tail: str  # the rest (head + tail is exactly the text as sent)
    head_parts: tuple[tuple[str, bool], ...]  # head as (piece, shown as a link)
    tail_parts: tuple[tuple[str, bool], ...]
    card: LinkCard | None
    card_note: str


def look_of(platform: str) -> Look:
    return LOOKS.get(platform, PLAIN)


def fold(text: str, look: Look) -> tuple[str, str]:
    """The text split at the network's fold: (shown, hidden behind "see more").

    The cut falls on a grapheme boundary (an emoji or a flag is never split), at the end of
    the allowed lines when that comes first, and back to the last space when one is near.
    """
    if look.fold_chars is None and look.fold_lines is None:
        return text, ""
    graphemes = _GRAPHEME.findall(text)
    limit = look.fold_chars if look.fold_chars is not None else len(graphemes)
    if look.fold_lines is not None:
        breaks = 0
        for index, g in enumerate(graphemes[:limit]):
            if g in ("\n", "\r\n"):
                breaks += 1
                if breaks == look.fold_lines:
                    limit = index
                    break
    if limit >= len(graphemes):
        return text, ""
    cut = limit
    for back in range(limit, max(limit - 25, 0), -1):
        if graphemes[back - 1].isspace() or graphemes[back].isspace():
            cut = back
            break
    head = "".join(graphemes[:cut])
    return head, text[len(head):]


def parts(text: str, linkify: bool) -> tuple[tuple[str, bool], ...]:
    """``text`` in pieces, URLs marked where the network shows them as links; the pieces
    joined are ``text``."""
    if not linkify:
        return ((text, False),) if text else ()
    pieces: list[tuple[str, bool]] = []
    at = 0
    for found in _URL.finditer(text):
        url = found.group(0).rstrip(".,;:!?)")
        if found.start() > at:
            pieces.append((text[at:found.start()], False))
        pieces.append((url, True))
        at = found.start() + len(url)
    if at < len(text):
        pieces.append((text[at:], False))
    return tuple(pieces)


def display_handle(platform: str, handle: str) -> str:
    handle = handle.strip()
    if platform in ("x", "bluesky", "instagram", "threads", "mastodon") and handle and \
            not handle.startswith("@"):
        return "@" + handle
    return handle


def initial_of(text: str) -> str:
    for g in _GRAPHEME.findall(text):
        if g.isalnum():
            return g.upper()
    return "?"


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def card_for(look: Look, *, text: str, link: str, has_image: bool,
             destinations: dict[str, str]) -> LinkCard | None:
    """The link card the network shows, or None. ``link`` is the post's link as sent (the
    tracked short link); ``destinations`` maps each short link to the page it leads to."""
    if has_image or not look.card:
        return None
    if look.card == "link":
        url = link
    else:
        found = _URL.search(text)
        url = found.group(0).rstrip(".,;:!?)") if found else ""
    if not url:
        return None
    host = _host(destinations.get(url, url)).removeprefix("www.")
    if not host:
        return None
    return LinkCard(url=url, host=host, initial=initial_of(host))


def feed_preview(*, platform: str, handle: str, display_name: str, text: str, link: str,
                 has_image: bool, destinations: dict[str, str]) -> FeedPreview:
    look = look_of(platform)
    shown_handle = display_handle(platform, handle)
    name = display_name.strip() or handle.strip().lstrip("@").split("@")[0] or look.name
    head, tail = fold(text, look)
    card = card_for(look, text=text, link=link, has_image=has_image,
                    destinations=destinations)
    has_url = bool(link or _URL.search(text))
    return FeedPreview(platform=platform, look=look, name=name, handle=shown_handle,
                       initial=initial_of(name),
                       colour=zlib.crc32(f"{platform}:{handle}".encode()) % 8,
                       head=head, tail=tail, card=card,
                       head_parts=parts(head, look.links_clickable),
                       tail_parts=parts(tail, look.links_clickable),
                       card_note=look.card_note if card is not None or (not look.card and has_url)
                       else "")
