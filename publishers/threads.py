"""Threads (graph.threads.net): a TEXT or IMAGE container, then threads_publish."""

from __future__ import annotations

from typing import Any

from publishers import http
from publishers.base import AccountRef, AuthExpired, Content, Problem, PublishError
from publishers.dm import final_text
from publishers.meta import ContainerPublisher, metrics_refusal
from publishers.metrics import (
    IMPRESSIONS,
    LIKES,
    QUOTES,
    REPLIES,
    REPOSTS,
    MetricsNotAvailable,
    graph_insights,
)
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
    # Long-lived tokens last 60 days and can be refreshed once a day old while still valid
    # (https://developers.facebook.com/docs/threads/get-started/long-lived-tokens): a week
    # ahead leaves room for outages and rate limits; 15 minutes did not.
    refresh_ahead_seconds = 7 * 24 * 3600
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

    def refresh_credentials(self, account: AccountRef, *, timeout: float = 15.0) -> dict[str, str]:
        """Extend a long-lived token (60 days) before it expires; returns the new credentials.

        Threads refreshes a still-valid long-lived token in place (``th_refresh_token``);
        an expired one cannot be refreshed and the account must be reconnected.
        """
        creds = dict(account.credentials)
        if not creds.get("access_token"):
            raise AuthExpired("This Threads account has no access token; reconnect it.")
        base = http.base_url(account.api_base, self.public_api)
        token, expires_at = self._refresh_long_lived(base, "th_refresh_token",
                                                     creds["access_token"], timeout=timeout)
        fresh = {**creds, "access_token": token}
        if expires_at:
            fresh["expires_at"] = expires_at
        return fresh

    # --- metrics (issue 15) -------------------------------------------------------------------
    # GET /{threads-media-id}/insights (https://developers.facebook.com/documentation/threads/
    # insights): views, likes, replies, reposts, quotes, shares (views and shares "in
    # development"); reposts and shares are both counted as reposts. Needs
    # threads_manage_insights (and threads_basic for any call).
    insights_metrics = ("views", "likes", "replies", "reposts", "quotes", "shares")
    insights_names = {"views": IMPRESSIONS, "likes": LIKES, "replies": REPLIES,
                      "reposts": REPOSTS, "quotes": QUOTES, "shares": REPOSTS}

    def insights_permissions(self, account: AccountRef) -> tuple[str, ...]:
        return ("threads_manage_insights", "threads_basic")

    def fetch_followers(self, account: AccountRef, *, timeout: float = 15.0) -> float:
        """The user insights metric ``followers_count``: GET /{threads-user-id}/
        threads_insights?metric=followers_count (same page, "User Insights"; answered as
        ``total_value.value``; threads_manage_insights)."""
        try:
            body = self._call("GET", f"{self._user(account)}/threads_insights", account,
                              timeout=timeout, params={"metric": "followers_count"})
        except PublishError as exc:
            raise metrics_refusal(exc, self.label, self.insights_permissions(account)) from exc
        value = graph_insights(body).get("followers_count")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise MetricsNotAvailable("not available: Threads gave no followers_count")
        return float(value)
