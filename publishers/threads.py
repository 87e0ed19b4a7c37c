"""Threads (graph.threads.net): a TEXT or IMAGE container, then threads_publish."""

from __future__ import annotations

import time
from typing import Any

from publishers import http
from publishers.base import AccountRef, AuthExpired, Content, Problem, Transient
from publishers.dm import final_text
from publishers.meta import ContainerPublisher, classify
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
        resp = http.request("GET", f"{base}/refresh_access_token", timeout=timeout,
                            params={"grant_type": "th_refresh_token",
                                    "access_token": creds["access_token"]})
        classify(resp, platform=self.label, creates=False)
        body = http.json_or_empty(resp)
        token = str(body.get("access_token") or "")
        if not token:
            raise Transient("Threads answered the refresh without a token; trying again later.")
        fresh = {**creds, "access_token": token}
        if str(body.get("expires_in", "")).isdigit():
            fresh["expires_at"] = str(int(time.time()) + int(body["expires_in"]))
        return fresh


    # --- metrics (issue 15) -------------------------------------------------------------------

    def fetch_metrics(self, content_ref: str, account: AccountRef, *,
                      timeout: float = 15.0) -> dict[str, float]:
        """The media's insights: GET /{media-id}/insights?metric=views,likes,...
        (https://developers.facebook.com/docs/threads/insights; needs threads_manage_insights).
        Without the permission Graph answers a permission error and the metrics are "not
        available"; a metric Meta leaves out stays absent."""
        from publishers.base import AuthExpired
        from publishers.metrics import (
            IMPRESSIONS,
            LIKES,
            QUOTES,
            REPLIES,
            REPOSTS,
            MetricsNotAvailable,
            graph_insights,
            pick,
        )

        try:
            body = self._call("GET", f"{content_ref}/insights", account, timeout=timeout,
                              params={"metric": "views,likes,replies,reposts,quotes,shares"})
        except AuthExpired as exc:
            raise MetricsNotAvailable(f"Threads does not give this app the post's "
                                      f"insights: {exc.reason}", status=exc.status) from exc
        return pick(graph_insights(body), {"views": IMPRESSIONS, "likes": LIKES,
                                             "replies": REPLIES, "reposts": REPOSTS,
                                             "quotes": QUOTES, "shares": REPOSTS})
