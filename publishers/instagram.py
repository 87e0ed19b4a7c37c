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
)
from publishers.dm import final_text
from publishers.meta import GRAPH_DEFAULT, ContainerPublisher, read_followers
from publishers.metrics import IMPRESSIONS, LIKES, REPLIES, REPOSTS, SAVES
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
        fresh, expires_at = self._refresh_long_lived(base, "ig_refresh_token", token,
                                                     timeout=timeout)
        result = {**creds, "instagram_user_token": fresh}
        if expires_at:
            result["expires_at"] = expires_at
        return result

    # --- metrics (issue 15) -------------------------------------------------------------------
    # GET /{ig-media-id}/insights (https://developers.facebook.com/docs/instagram-platform/
    # reference/instagram-media/insights): views (the v22.0+ replacement of the deprecated
    # impressions and plays, gone for every version since 2025-04-21), likes, comments,
    # shares, saved. A metric with no data yet is left out ("an empty data set instead of 0"),
    # and so stays absent here.
    insights_metrics = ("views", "likes", "comments", "shares", "saved")
    insights_names = {"views": IMPRESSIONS, "likes": LIKES, "comments": REPLIES,
                      "shares": REPOSTS, "saved": SAVES}

    def insights_permissions(self, account: AccountRef) -> tuple[str, ...]:
        """Instagram Login: instagram_business_manage_insights; Facebook Login:
        instagram_manage_insights (with instagram_basic and pages_read_engagement), per the
        insights guide (https://developers.facebook.com/docs/instagram-platform/insights)."""
        if self._instagram_login(account):
            return ("instagram_business_manage_insights", "instagram_business_basic")
        return ("instagram_manage_insights", "instagram_basic", "pages_read_engagement")

    def fetch_followers(self, account: AccountRef, *, timeout: float = 15.0) -> float:
        """The IG user's ``followers_count`` (GET /{ig-user-id}?fields=followers_count,
        https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/
        ig-user; instagram_basic + pages_read_engagement, or instagram_business_basic)."""
        needed = (("instagram_business_basic",) if self._instagram_login(account)
                  else ("instagram_basic", "pages_read_engagement"))
        return read_followers(self._call, self._user(account), account, platform=self.label,
                              field="followers_count", needed=needed, timeout=timeout)
