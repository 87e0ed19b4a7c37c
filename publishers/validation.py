"""Checks every adapter's ``validate`` shares: text incl. call to action, media, credentials."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

from publishers.base import AccountRef, Content, Problem
from publishers.dm import text_problems
from publishers.registry import get_publisher


@dataclass(frozen=True)
class MediaRules:
    max_items: int = 4
    max_bytes: int = 5 * 1024 * 1024
    mime_types: frozenset[str] = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
    required: bool = False
    needs_public_url: bool = False
    # The platform's rule in words, added to every media problem so a person knows what fits.
    rule: str = ""


NO_MEDIA = MediaRules(max_items=0)


def missing_credentials(account: AccountRef, *alternatives: Iterable[str]) -> list[Problem]:
    """A problem unless one of the alternative sets of credential fields is complete."""
    for fields in alternatives:
        if all(account.credentials.get(name) for name in fields):
            return []
    wanted = " or ".join("+".join(fields) for fields in alternatives)
    return [Problem("account", f"The {account.platform} account is missing credentials "
                               f"({wanted}); reconnect it.")]


def media_problems(content: Content, platform: str, rules: MediaRules) -> list[Problem]:
    problems = _media_problems(content, platform, rules)
    if rules.rule:
        problems = [Problem(p.field, f"{p.message} {rules.rule}") for p in problems]
    return problems


def upload_problems(content: Content, account: AccountRef) -> list[Problem]:
    """The media problems of ``content`` for the account's platform, without the network:
    what the composer and the API check before a post can be approved."""
    if not content.media:
        return []
    rules = getattr(get_publisher(account.platform), "media_rules", None)
    if not isinstance(rules, MediaRules):
        return []
    # A public https URL is the deployment's matter (POISE_PUBLIC_BASE_URL), checked at send.
    return media_problems(content, account.platform, replace(rules, needs_public_url=False))


def _media_problems(content: Content, platform: str, rules: MediaRules) -> list[Problem]:
    problems: list[Problem] = []
    if rules.required and not content.media:
        problems.append(Problem("media", f"{platform} posts need an image."))
    if len(content.media) > rules.max_items:
        if rules.max_items == 0:
            problems.append(Problem("media", f"Images are not supported on {platform} yet."))
            return problems
        problems.append(Problem("media", f"{platform} allows at most {rules.max_items} images; "
                                         f"this post has {len(content.media)}."))
    for item in content.media:
        name = os.path.basename(item.path)
        if item.mime_type not in rules.mime_types:
            problems.append(Problem("media", f"{name}: {item.mime_type} is not accepted by "
                                             f"{platform}."))
        if rules.needs_public_url and not item.url.startswith("https://"):
            problems.append(Problem("media", f"{name}: {platform} fetches images from a public "
                                             f"https URL, and this image has none."))
        try:
            size = os.path.getsize(item.path)
        except OSError:
            if not rules.needs_public_url:
                problems.append(Problem("media", f"{name}: the file is missing."))
            continue
        if size > rules.max_bytes:
            problems.append(Problem("media", f"{name} is {size // 1024} KB; {platform} accepts "
                                             f"up to {rules.max_bytes // 1024} KB."))
    return problems


def common_problems(content: Content, account: AccountRef, rules: MediaRules,
                    *credential_sets: Iterable[str]) -> list[Problem]:
    return (missing_credentials(account, *credential_sets)
            + text_problems(content, account)
            + media_problems(content, account.platform, rules))
