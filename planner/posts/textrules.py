"""The bridge from planner rows to the publishers' text rules and previews.

The composer's live counters, the Review page previews and the checks before submit and
approval all call these, so what a person sees counted is what is validated and sent.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from planner.accounts import account_ref
from planner.models import Account, Post, Publication
from planner.settings import get_settings
from publishers import Content, DmPrompt, MediaFile
from publishers.dm import Preview, preview, text_problems
from publishers.validation import upload_problems


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


def preview_for(*, post: Post, publication: Publication | None, account: Account,
                utm_campaign: str = "", text: str | None = None) -> Preview:
    return preview(content_for(post, publication, utm_campaign=utm_campaign, text=text),
                   account_ref(account))


def problems_for(*, post: Post, publication: Publication, account: Account) -> list[str]:
    """Text and media problems for one account, before approval (no network)."""
    content = content_for(post, publication, media_dir=get_settings().media_dir)
    ref = account_ref(account)
    return [p.message for p in (*text_problems(content, ref), *upload_problems(content, ref))]
