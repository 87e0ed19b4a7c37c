"""The fakes' metrics (issue 15): plausible counts, follower counts, and the Graph reads of
Facebook Page posts, Instagram and Threads media insights, each written from Meta's pages:

- Facebook Page post: ``GET /{post-id}?fields=reactions.summary(total_count),
  comments.summary(total_count),shares`` and ``GET /{page-id}?fields=followers_count``; both
  need ``pages_read_engagement`` (https://developers.facebook.com/docs/graph-api/reference/
  object/reactions "Requirements"; https://developers.facebook.com/docs/graph-api/reference/
  page/). Page Insights (impressions) need ``read_insights`` and are not served.
- Instagram: ``GET /{ig-media-id}/insights?metric=...``
  (https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights):
  views, reach, likes, comments, shares, saved, total_interactions. ``impressions``,
  ``plays``, ``clips_replays_count`` and ``ig_reels_aggregated_all_plays_count`` were
  deprecated for v22.0 and for every version from 2025-04-21, ``video_views`` before that: a
  request naming one is refused. A metric without data is left out ("an empty data set
  instead of 0"); a media with too few viewers answers "(#10) Not enough viewers for the
  media to show insights". Permissions (https://developers.facebook.com/docs/
  instagram-platform/insights): ``instagram_manage_insights`` (Facebook Login) or
  ``instagram_business_manage_insights`` (Instagram Login). ``GET /{ig-user-id}?fields=
  followers_count`` (.../instagram-graph-api/reference/ig-user): ``instagram_basic``.
- Threads: ``GET /{threads-media-id}/insights?metric=views,likes,replies,reposts,quotes,shares``
  and ``GET /{threads-user-id}/threads_insights?metric=followers_count`` (answered as
  ``total_value``); both need ``threads_manage_insights``
  (https://developers.facebook.com/documentation/threads/insights).

A refused permission is answered as Graph answers permission errors: code 10 "API Permission
Denied" (https://developers.facebook.com/docs/graph-api/guides/error-handling). Permissions are
checked only for tokens whose grant the fake knows (``meta_scopes``, filled by the OAuth flow or
by a test); the fixed test token has every permission.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from sandbox.core import FakeRequest, FakeResponse

# Default follower count of every fake account (a test or the demo may change it).
FOLLOWERS = 1200

IG_METRICS = frozenset({"views", "reach", "likes", "comments", "shares", "saved",
                        "total_interactions"})
IG_DEPRECATED = frozenset({"impressions", "plays", "clips_replays_count",
                           "ig_reels_aggregated_all_plays_count", "video_views"})
THREADS_METRICS = frozenset({"views", "likes", "replies", "reposts", "quotes", "shares"})
THREADS_USER_METRICS = frozenset({"views", "likes", "replies", "reposts", "quotes", "clicks",
                                  "followers_count", "follower_demographics"})


def fake_counts(key: str, age_seconds: float) -> dict[str, int]:
    """Plausible, stable counts for a post: a per-post size (from its id) that grows with
    age and levels off after a day or two."""
    digest = hashlib.sha256(key.encode()).digest()
    size = 20 + digest[0] * 2 + digest[1] % 50
    grown = 1 - math.exp(-max(age_seconds, 0.0) / 21600)
    likes = int(size * grown)
    return {"likes": likes, "reposts": likes // 5 + digest[2] % 3 * int(grown),
            "replies": likes // 8, "saves": likes // 10,
            "impressions": int(likes * (30 + digest[3] % 20))}


def _graph_error(status: int, code: int, message: str, subcode: int = 0) -> FakeResponse:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                             "fbtrace_id": "fake"}
    if subcode:
        error["error_subcode"] = subcode
    return FakeResponse(status, {"error": error})


def permission_denied(permission: str) -> FakeResponse:
    return _graph_error(403, 10, f"(#10) This endpoint requires the '{permission}' permission")


def _insight(object_id: str, name: str, value: int, *, total: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "period": "lifetime" if not total else "day",
                           "title": name.replace("_", " ").capitalize(), "description": "",
                           "id": f"{object_id}/insights/{name}/lifetime"}
    if total:
        row["total_value"] = {"value": value}
    else:
        row["values"] = [{"value": value}]
    return row


class GraphMetrics:
    """Mixed into ``FakePlatform``: needs ``lock``, ``_g_objects``, ``meta_scopes`` and
    ``_graph_parts``."""

    lock: Any
    _g_objects: dict[str, dict[str, Any]]
    meta_scopes: dict[str, set[str]]
    followers_count: int
    instagram_few_viewers: set[str]

    def _graph_parts(self, req: FakeRequest) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def reset_metrics(self) -> None:
        self.followers_count = FOLLOWERS
        self.instagram_few_viewers = set()  # media ids answering "Not enough viewers"

    def _granted(self, req: FakeRequest, *any_of: str) -> bool:
        """True unless the token's grant is known and holds none of ``any_of``."""
        token = req.query.get("access_token", "")
        if not token and req.headers.get("authorization", "").startswith("Bearer "):
            token = req.headers["authorization"][7:]
        with self.lock:
            granted = self.meta_scopes.get(token)
        return granted is None or bool(granted & set(any_of))

    # --- Facebook Page ---------------------------------------------------------------------

    def g_post_fields(self, req: FakeRequest, post: dict[str, Any]) -> FakeResponse:
        """A Page post's reactions/comments/shares, as asked in ``fields``."""
        if not self._granted(req, "pages_read_engagement"):
            return permission_denied("pages_read_engagement")
        fields = req.query.get("fields", "")
        counts = fake_counts(post["id"], time.time() - float(post["created_time"]))
        body: dict[str, Any] = {"id": post["id"]}
        if "reactions" in fields:
            body["reactions"] = {"data": [], "summary": {"total_count": counts["likes"],
                                                         "viewer_reaction": "NONE"}}
        if "comments" in fields:
            body["comments"] = {"data": [], "summary": {"order": "ranked",
                                                        "total_count": counts["replies"],
                                                        "can_comment": True}}
        if "shares" in fields and counts["reposts"]:
            body["shares"] = {"count": counts["reposts"]}
        return FakeResponse(200, body)

    def g_followers(self, req: FakeRequest, object_id: str, platform: str) -> FakeResponse:
        """``?fields=followers_count`` on a Page (pages_read_engagement) or an IG user
        (instagram_basic / instagram_business_basic)."""
        needed = (("pages_read_engagement",) if platform == "facebook"
                  else ("instagram_basic", "instagram_business_basic"))
        if not self._granted(req, *needed):
            return permission_denied(needed[0])
        return FakeResponse(200, {"id": object_id, "followers_count": self.followers_count})

    # --- Instagram and Threads media insights ----------------------------------------------

    def g_insights(self, req: FakeRequest) -> FakeResponse:
        media_id, _ = self._graph_parts(req)
        wanted = [m for m in req.query.get("metric", "").split(",") if m]
        if not wanted:
            return _graph_error(400, 100, "(#100) The parameter metric is required")
        threads = req.platform == "threads"
        if threads and not self._granted(req, "threads_manage_insights"):
            return permission_denied("threads_manage_insights")
        if not threads and not self._granted(req, "instagram_manage_insights",
                                             "instagram_business_manage_insights"):
            return permission_denied("instagram_manage_insights")
        allowed = THREADS_METRICS if threads else IG_METRICS
        for metric in wanted:
            if not threads and metric in IG_DEPRECATED:
                return _graph_error(400, 100, f"(#100) {metric} metric is no longer "
                                              f"supported; use views")
            if metric not in allowed:
                return _graph_error(400, 100, f"(#100) metric[0] must be one of the "
                                              f"following values: {', '.join(sorted(allowed))}")
        with self.lock:
            media = self._g_objects.get(media_id)
            few = media_id in self.instagram_few_viewers
        if media is None or media.get("kind") != "published" or (
                media.get("platform") != req.platform):
            return _graph_error(400, 100, f"Unsupported get request. Object with ID "
                                          f"'{media_id}' does not exist, cannot be loaded due "
                                          f"to missing permissions, or does not support this "
                                          f"operation", 33)
        if few:
            return _graph_error(400, 10, "(#10) Not enough viewers for the media to show "
                                         "insights")
        counts = fake_counts(media_id, time.time() - float(media["timestamp"]))
        values = {"views": counts["impressions"], "reach": counts["impressions"] * 2 // 3,
                  "likes": counts["likes"], "comments": counts["replies"],
                  "replies": counts["replies"], "shares": counts["reposts"] // 2,
                  "reposts": counts["reposts"] - counts["reposts"] // 2, "quotes": 0,
                  "saved": counts["saves"],
                  "total_interactions": counts["likes"] + counts["replies"] + counts["saves"]}
        # Instagram: no data yet is "an empty data set instead of 0"; Threads answers 0.
        data = [_insight(media_id, m, values[m]) for m in wanted
                if threads or values[m] > 0]
        return FakeResponse(200, {"data": data})

    def g_threads_user_insights(self, req: FakeRequest) -> FakeResponse:
        user, _ = self._graph_parts(req)
        if not self._granted(req, "threads_manage_insights"):
            return permission_denied("threads_manage_insights")
        wanted = [m for m in req.query.get("metric", "").split(",") if m]
        if not wanted or any(m not in THREADS_USER_METRICS for m in wanted):
            return _graph_error(400, 100, "(#100) metric must be one of: "
                                          f"{', '.join(sorted(THREADS_USER_METRICS))}")
        data = [_insight(user, m, self.followers_count, total=True) for m in wanted
                if m == "followers_count"]
        return FakeResponse(200, {"data": data})
