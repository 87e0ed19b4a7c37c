"""Pages a person opens: ``GET /view/{platform}/{post id}`` shows a post the sandbox holds.

The real platforms have a public page per post (x.com/…/status/…, bsky.app/profile/…/post/…);
the sandbox has this one, so a "view the live post" link in a demo opens the post where it
really went instead of a real platform's address where it does not exist. Posts the demo
seeded as history (they never went through an API) are shown when they were ``show()``-n to
the sandbox at start, marked as seeded. Anything else is a plain 404 page.

Every value is escaped: post text is whatever a client sent.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from sandbox.core import FakeRequest, FakeResponse

VIEW_PATH = re.compile(r"^/view/([a-z]+)/(.+)$")
_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "linkedin": "LinkedIn",
          "facebook": "Facebook", "instagram": "Instagram", "threads": "Threads"}


@dataclass(frozen=True)
class Shown:
    """A post the sandbox did not receive but shows (the demo's seeded history)."""

    platform: str
    remote_id: str
    handle: str
    text: str
    at: float  # epoch seconds


def view_path(platform: str, remote_id: str) -> str:
    """The path of a post's page; the id is percent-encoded (Bluesky's are at:// URIs)."""
    return f"/view/{platform}/{quote(remote_id, safe='')}"


class PostViews:
    """Mixed into FakePlatform, which holds the posts (``lookup_post``) and the lock."""

    lock: Any
    _shown: dict[tuple[str, str], Shown]

    def reset_views(self) -> None:
        self._shown = {}

    def show(self, posts: list[Shown]) -> None:
        """Make seeded posts viewable (not readable through the APIs: they were never sent)."""
        with self.lock:
            for post in posts:
                self._shown[(post.platform, post.remote_id)] = post

    def lookup_post(self, platform: str, remote_id: str) -> tuple[str, str, float] | None:
        """(handle, text, created epoch) of a post the fake received; subclasses answer."""
        raise NotImplementedError

    def _view(self, req: FakeRequest) -> FakeResponse:
        match = VIEW_PATH.match(req.path)
        platform, remote_id = (match.group(1), unquote(match.group(2))) if match else ("", "")
        found = self.lookup_post(platform, remote_id) if platform in _NAMES else None
        seeded = False
        if found is None:
            with self.lock:
                shown = self._shown.get((platform, remote_id))
            if shown is not None:
                found, seeded = (shown.handle, shown.text, shown.at), True
        if found is None:
            return _page(404, "Not on the sandbox",
                         "<p>The sandbox holds no post with this id. It keeps posts in memory "
                         "only, so posts sent before it last started are gone.</p>")
        handle, text, at = found
        name = _NAMES[platform]
        when = time.strftime("%d %b %Y, %H:%M UTC", time.gmtime(at))
        note = ("Seeded by the demo as history: it never went through the platform's API, "
                "so it has no live metrics." if seeded else
                f"Received through the fake {name} API.")
        body = (f'<article class="post"><p class="who"><strong>{html.escape(handle)}</strong> '
                f'on {name} (sandbox)</p><p class="text">{_text(text)}</p>'
                f'<p class="when">{when}</p></article><p class="note">{html.escape(note)}</p>'
                f'<p class="note">id {html.escape(remote_id)}</p>')
        return _page(200, f"{name} post on the sandbox", body)


def _text(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.splitlines())


def _page(status: int, title: str, body: str) -> FakeResponse:
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui,sans-serif;"
            f"max-width:36rem;margin:2rem auto;padding:0 1rem;color:#222}}.post{{border:1px "
            f"solid #ccc;border-radius:8px;padding:1rem}}.text{{font-size:1.1rem;"
            f"overflow-wrap:anywhere}}.when,.note{{color:#666;font-size:.9rem}}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return FakeResponse(status, page.encode(), {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
