"""Instagram (professional accounts): an image container, then media_publish.

Two ways in (https://developers.facebook.com/docs/instagram-platform/overview): Instagram API
with Facebook Login (graph.facebook.com, a token from the linked Facebook Page's user) and
Instagram API with Instagram Login (graph.instagram.com, an Instagram User token, no Facebook
Page needed). The paths are the same; the host and the token differ.

An account may publish at most ``quota_total`` posts (100) per moving 24 hours through the
API; ``GET /{ig-user-id}/content_publishing_limit`` tells how many are used
(.../reference/ig-user/content_publishing_limit). When the quota is used up, the publication
waits until the oldest post in the window is 24 hours old, instead of knocking every minute.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from publishers import http
from publishers.base import (
    AccountRef,
    AuthExpired,
    Content,
    Problem,
    PublishError,
    RateLimited,
    Transient,
)
from publishers.dm import final_text
from publishers.meta import GRAPH_DEFAULT, ContainerPublisher, classify
from publishers.validation import MediaRules, common_problems

log = logging.getLogger(__name__)

CREDENTIALS = ("access_token",)
# Instagram Login: the Instagram User token (Business Login for Instagram).
INSTAGRAM_LOGIN_CREDENTIALS = ("instagram_user_token",)
INSTAGRAM_LOGIN_API = "https://graph.instagram.com"
# content-publishing guide: "limited to 100 API-published posts within a 24-hour moving
# period"; the endpoint's own quota_total wins when it answers.
DEFAULT_QUOTA_DURATION = 86400
# Publish-limit errors on media_publish (error-codes page: code 9, subcode 2207042).
PUBLISH_LIMIT_SUBCODE = 2207042


class InstagramPublisher(ContainerPublisher):
    platform = "instagram"
    label = "Instagram"
    public_api = "https://graph.facebook.com"
    default_version = GRAPH_DEFAULT
    create_edge = "media"
    publish_edge = "media_publish"
    status_field = "status_code"
    caption_field = "caption"
    # Instagram Login tokens are long-lived (60 days) and refreshed with ig_refresh_token
    # (.../instagram-api-with-instagram-login/business-login#refresh): a week ahead.
    refresh_ahead_seconds = 7 * 24 * 3600
    # One image per post for now (carousels need child containers); JPEG only, 8 MB.
    media_rules = MediaRules(max_items=1, max_bytes=8 * 1024 * 1024,
                             mime_types=frozenset({"image/jpeg"}), required=True,
                             needs_public_url=True)

    def _instagram_login(self, account: AccountRef) -> bool:
        return bool(account.credentials.get("instagram_user_token"))

    def _root(self, account: AccountRef) -> str:
        if not self._instagram_login(account):
            return super()._root(account)
        version = account.credentials.get("graph_version") or account.api_version or \
            self.default_version
        return f"{http.base_url(account.api_base, INSTAGRAM_LOGIN_API)}/{version}"

    def _token(self, account: AccountRef) -> str:
        return (account.credentials.get("instagram_user_token")
                or account.credentials.get("access_token", ""))

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        problems = common_problems(content, account, self.media_rules, CREDENTIALS,
                                   INSTAGRAM_LOGIN_CREDENTIALS)
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

    # --- the 24-hour publishing quota ---------------------------------------------------

    def check_quota(self, account: AccountRef, timeout: float) -> None:
        try:
            body = self._call("GET", f"{self._user(account)}/content_publishing_limit",
                              account, timeout=timeout,
                              params={"fields": "quota_usage,config"})
        except (AuthExpired, RateLimited):
            raise
        except PublishError as exc:
            # The quota cannot be read (a missing permission, a hiccup): publishing still
            # works, and the publish call's own limit error is handled below.
            log.info("could not read the Instagram publishing limit: %s", exc.reason)
            return
        data = body.get("data")
        row = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        config = row.get("config")
        config = config if isinstance(config, dict) else {}
        try:
            usage = int(row.get("quota_usage", 0))
            total = int(config.get("quota_total", 0))
            duration = int(config.get("quota_duration") or DEFAULT_QUOTA_DURATION)
        except (TypeError, ValueError):
            return
        if total and usage >= total:
            reset = self._window_ends(account, timeout, duration)
            raise RateLimited(f"Instagram allows {total} posts a day through the API and this "
                              f"account has used them all; publishing resumes at "
                              f"{reset:%Y-%m-%d %H:%M} UTC.", reset_at=reset, status=None)

    def quota_reached(self, exc: RateLimited, account: AccountRef,
                      timeout: float) -> RateLimited:
        try:
            error = json.loads(exc.detail).get("error") or {}
            subcode = int(error.get("error_subcode") or 0)
        except (ValueError, AttributeError, TypeError):
            subcode = 0
        if subcode != PUBLISH_LIMIT_SUBCODE:
            return exc
        reset = self._window_ends(account, timeout, DEFAULT_QUOTA_DURATION)
        return RateLimited(f"Instagram's daily publishing limit is reached; publishing "
                           f"resumes at {reset:%Y-%m-%d %H:%M} UTC.", reset_at=reset,
                           status=exc.status, detail=exc.detail)

    def _window_ends(self, account: AccountRef, timeout: float, duration: int) -> datetime:
        """When the oldest post of the moving window leaves it: the account's recent posts
        say when they were published. The earliest such moment is a lower bound (posts made
        in the app count in the list but not in the quota): if it comes too early, the next
        attempt reads the quota again and waits for the next one."""
        now = datetime.now(UTC)
        fallback = now + timedelta(hours=1)
        try:
            body = self._call("GET", f"{self._user(account)}/{self.create_edge}", account,
                              timeout=timeout, params={"fields": "id,timestamp", "limit": 100})
        except PublishError:
            return fallback
        window_start = now - timedelta(seconds=duration)
        stamps = [http.parse_iso(str(item.get("timestamp") or ""))
                  for item in body.get("data") or [] if isinstance(item, dict)]
        inside = [s for s in stamps if s is not None and s > window_start]
        if not inside:
            return fallback
        return min(inside) + timedelta(seconds=duration + 60)

    # --- Instagram Login tokens ---------------------------------------------------------

    def refresh_credentials(self, account: AccountRef, *, timeout: float = 15.0) -> dict[str, str]:
        """Extend an Instagram Login token (60 days) with ``ig_refresh_token``; Facebook
        Login page tokens do not expire and are left alone."""
        creds = dict(account.credentials)
        token = creds.get("instagram_user_token", "")
        if not token:
            raise AuthExpired("Only Instagram Login tokens can be refreshed; reconnect.")
        base = http.base_url(account.api_base, INSTAGRAM_LOGIN_API)
        resp = http.request("GET", f"{base}/refresh_access_token", timeout=timeout,
                            params={"grant_type": "ig_refresh_token", "access_token": token})
        classify(resp, platform=self.label, creates=False)
        body = http.json_or_empty(resp)
        fresh = str(body.get("access_token") or "")
        if not fresh:
            raise Transient("Instagram answered the refresh without a token; trying later.")
        result = {**creds, "instagram_user_token": fresh}
        if str(body.get("expires_in", "")).isdigit():
            result["expires_at"] = str(int(time.time()) + int(body["expires_in"]))
        return result

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
