"""What goes out for a publication: its Content, the fingerprint of exactly that content,
its idempotency key and the account it goes out on, as the publishers see them.

Built for each claimed publication (planner.claiming); the idempotency key is also fixed when a
post is scheduled (planner.publishing).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from planner.accounts import account_ref, decrypt_credentials
from planner.models import Account, Post, Publication, Workspace
from planner.posts import content_for
from publishers import AccountRef, Content


def content_fingerprint(content: Content) -> str:
    """sha256 of exactly what goes out: final text, link, media paths, DM prompt, campaign."""
    prompt = content.dm_prompt
    payload = [content.text, content.link or "", [m.path for m in content.media],
               [prompt.keyword, prompt.product_url, prompt.prefill] if prompt else None,
               content.utm_campaign, content.post_ref, [list(t) for t in content.tracked_links]]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def idempotency_key_for(publication_id: int, post_version: int) -> str:
    return f"poise-{publication_id}-{post_version}"


def build_content(publication: Publication, post: Post, workspace: Workspace,
                  media_dir: Path, tracked: tuple[tuple[str, str], ...] = ()) -> Content:
    return content_for(post, publication, utm_campaign=workspace.utm_campaign,
                       media_dir=media_dir, tracked_links=tracked)


def build_account_ref(account: Account) -> AccountRef:
    # The accounts area builds it, so the configured API version (POISE_LINKEDIN_VERSION)
    # reaches the adapter on the sending path too.
    return account_ref(account, decrypt_credentials(account.credentials_enc))
