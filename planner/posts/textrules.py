"""One rendering of a post as it will be sent to each account.

``as_sent`` is the single answer to "what does this account receive?": the per-account text
variant, the tracked short link ``/r/<code>`` in place of each product link (or, before the
code exists, a placeholder of exactly the same length, so the count does not move when the
code is made), and the DM call to action. The composer's live counters, the post page and
Review previews, the checks at save, submit, approve, move, CSV import and the API, and the
dispatcher (``content_for`` with the real codes, planner.publishing.outgoing) all use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from sqlmodel import Session, col, select

from planner.accounts import account_ref
from planner.conversions import links
from planner.models import Account, Post, Publication
from planner.models_conversions import TrackedLink
from planner.posts import looks
from planner.settings import get_settings
from publishers import Content, DmPrompt, MediaFile
from publishers.dm import Preview, preview, tagged_link, text_problems
from publishers.validation import upload_problems

# A tracked link's code before the claim creates it: as long as every real code, and made of
# the same kind of characters, so every platform's counting rule weighs it the same.
PLACEHOLDER_CODE = "x" * links.CODE_LENGTH


def content_for(post: Post, publication: Publication | None = None, *,
                utm_campaign: str = "", text: str | None = None,
                media_dir: Path | None = None,
                tracked_links: tuple[tuple[str, str], ...] = ()) -> Content:
    """The exact content one publication sends (its text variant if it has one).

    ``media_dir`` resolves a relative media path to the file the adapter uploads;
    ``tracked_links`` are the short links the dispatcher sends in place of product links.
    """
    body = text if text is not None else (
        publication.text_variant if publication and publication.text_variant else post.text)
    prompt = None
    if post.dm_keyword or post.dm_product_url:
        prompt = DmPrompt(keyword=post.dm_keyword, product_url=post.dm_product_url,
                          prefill=post.dm_prefill, call_to_action=post.dm_call_to_action)
    media: tuple[MediaFile, ...] = ()
    if post.media_path:
        path = Path(post.media_path)
        # Instagram and Threads fetch images by URL: an upload's public address is
        # <public base>/media/<its path under the media dir>.
        url = "" if path.is_absolute() else (
            f"{get_settings().public_base_url.rstrip('/')}/media/{quote(post.media_path)}")
        if media_dir is not None and not path.is_absolute():
            path = media_dir / path
        media = (MediaFile(path=str(path), mime_type=post.media_mime, url=url),)
    return Content(text=body, link=post.link or None, media=media, dm_prompt=prompt,
                   utm_campaign=utm_campaign, post_ref=str(post.id or ""),
                   tracked_links=tracked_links)


def trackable_urls(post: Post) -> list[str]:
    """The URLs that go out as tracked short links (the same rule as the dispatcher's)."""
    urls = [url.strip() for url in (post.link, post.dm_product_url)
            if url and url.strip().lower().startswith(("http://", "https://"))]
    return list(dict.fromkeys(urls))


def planned_links(post: Post, existing: Iterable[tuple[str, str]] = ()
                  ) -> tuple[tuple[str, str], ...]:
    """(URL, short link) for each trackable URL: the real code where one exists, else the
    placeholder of the same length."""
    known = dict(existing)
    return tuple((url, known.get(url) or links.short_url(PLACEHOLDER_CODE))
                 for url in trackable_urls(post))


def existing_links(session: Session | None, publication: Publication | None
                   ) -> list[tuple[str, str]]:
    """The short links already made for a publication (after its first claim)."""
    if session is None or publication is None or publication.id is None:
        return []
    rows = session.exec(select(TrackedLink.url, TrackedLink.code).where(
        col(TrackedLink.publication_id) == publication.id)).all()
    return [(url, links.short_url(code)) for url, code in rows]


def as_sent(*, post: Post, publication: Publication | None, account: Account,
            utm_campaign: str = "", text: str | None = None,
            session: Session | None = None) -> Preview:
    """The post as ``account`` will receive it: final text, its count, its problems.

    ``text`` overrides the stored text (the composer's unsaved main text or variant).
    """
    tracked = planned_links(post, existing_links(session, publication))
    content = content_for(post, publication, utm_campaign=utm_campaign, text=text,
                          tracked_links=tracked)
    return preview(content, account_ref(account))


def preview_for(*, post: Post, publication: Publication | None, account: Account,
                utm_campaign: str = "", text: str | None = None,
                session: Session | None = None) -> Preview:
    return as_sent(post=post, publication=publication, account=account,
                   utm_campaign=utm_campaign, text=text, session=session)


def problems_for(*, post: Post, publication: Publication, account: Account) -> list[str]:
    """Text and media problems for one account, before approval (no network)."""
    content = content_for(post, publication, media_dir=get_settings().media_dir,
                          tracked_links=planned_links(post))
    ref = account_ref(account)
    return [p.message for p in (*text_problems(content, ref), *upload_problems(content, ref))]


def feed_look(*, post: Post, publication: Publication | None, account: Account,
              shown: Preview, has_image: bool, utm_campaign: str = "",
              session: Session | None = None) -> looks.FeedPreview:
    """``shown`` (the ``as_sent`` preview) dressed as ``account``'s network shows it: name,
    handle, avatar initial, the fold, and the link card the network makes (planner.posts.
    looks). The card names the page a tracked short link leads to."""
    tracked = planned_links(post, existing_links(session, publication))
    content = content_for(post, publication, utm_campaign=utm_campaign, tracked_links=tracked)
    link = tagged_link(content, account_ref(account)) or ""
    return looks.feed_preview(platform=account.platform, handle=account.handle,
                              display_name=account.display_name, text=shown.text, link=link,
                              has_image=has_image,
                              destinations={short: url for url, short in tracked})
