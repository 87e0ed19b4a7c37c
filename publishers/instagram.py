"""Instagram (Graph API, professional accounts): an image container, then media_publish."""

from __future__ import annotations

from typing import Any

from publishers.base import AccountRef, Content, Problem
from publishers.dm import final_text
from publishers.meta import ContainerPublisher
from publishers.validation import MediaRules, common_problems

CREDENTIALS = ("access_token",)


class InstagramPublisher(ContainerPublisher):
    platform = "instagram"
    label = "Instagram"
    public_api = "https://graph.facebook.com"
    default_version = "v21.0"
    create_edge = "media"
    publish_edge = "media_publish"
    status_field = "status_code"
    caption_field = "caption"
    # One image per post for now (carousels need child containers); JPEG only, 8 MB.
    media_rules = MediaRules(max_items=1, max_bytes=8 * 1024 * 1024,
                             mime_types=frozenset({"image/jpeg"}), required=True,
                             needs_public_url=True)

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        problems = common_problems(content, account, self.media_rules, CREDENTIALS)
        if not account.external_id:
            problems.append(Problem("account", "The Instagram account has no user id; "
                                               "reconnect it."))
        return problems

    def container_fields(self, content: Content, account: AccountRef) -> dict[str, Any]:
        image = content.media[0]
        fields: dict[str, Any] = {"image_url": image.url,
                                  "caption": final_text(content, account)}
        if image.alt_text:
            fields["alt_text"] = image.alt_text
        return fields


    # --- metrics (issue 15) -------------------------------------------------------------------

    def fetch_metrics(self, content_ref: str, account: AccountRef, *,
                      timeout: float = 15.0) -> dict[str, float]:
        """The media's insights: GET /{media-id}/insights?metric=views,likes,...
        (https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/
        insights; needs instagram_business_manage_insights, or instagram_manage_insights with
        Facebook Login). Without the permission Graph answers a permission error and the
        metrics are "not available"; a metric Meta leaves out stays absent."""
        from publishers.base import AuthExpired
        from publishers.metrics import (
            IMPRESSIONS,
            LIKES,
            REPLIES,
            REPOSTS,
            SAVES,
            MetricsNotAvailable,
            graph_insights,
            pick,
        )

        try:
            body = self._call("GET", f"{content_ref}/insights", account, timeout=timeout,
                              params={"metric": "views,likes,comments,shares,saved"})
        except AuthExpired as exc:
            raise MetricsNotAvailable(f"Instagram does not give this app the post's "
                                      f"insights: {exc.reason}", status=exc.status) from exc
        return pick(graph_insights(body), {"views": IMPRESSIONS, "likes": LIKES,
                                             "comments": REPLIES, "shares": REPOSTS,
                                             "saved": SAVES})
