"""Threads (graph.threads.net): a TEXT or IMAGE container, then threads_publish."""

from __future__ import annotations

from typing import Any

from publishers.base import AccountRef, Content, Problem
from publishers.dm import final_text
from publishers.meta import ContainerPublisher
from publishers.validation import MediaRules, common_problems

CREDENTIALS = ("access_token",)


class ThreadsPublisher(ContainerPublisher):
    platform = "threads"
    label = "Threads"
    public_api = "https://graph.threads.net"
    default_version = "v1.0"
    create_edge = "threads"
    publish_edge = "threads_publish"
    status_field = "status"
    caption_field = "text"
    media_rules = MediaRules(max_items=1, max_bytes=8 * 1024 * 1024,
                             mime_types=frozenset({"image/jpeg", "image/png"}),
                             needs_public_url=True)

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        problems = common_problems(content, account, self.media_rules, CREDENTIALS)
        if not account.external_id:
            problems.append(Problem("account", "The Threads account has no user id; "
                                               "reconnect it."))
        return problems

    def container_fields(self, content: Content, account: AccountRef) -> dict[str, Any]:
        fields: dict[str, Any] = {"media_type": "TEXT", "text": final_text(content, account)}
        if content.media:
            fields.update(media_type="IMAGE", image_url=content.media[0].url)
            if content.media[0].alt_text:
                fields["alt_text"] = content.media[0].alt_text
        return fields
