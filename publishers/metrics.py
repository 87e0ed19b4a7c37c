"""Reading a published post's public metrics (issue 15): the shared vocabulary.

Each adapter offers ``fetch_metrics(content_ref, account) -> dict[str, float]`` (its last
method), where ``content_ref`` is the publication's remote id as ``publish`` returned it. The
dict uses the normalised names below and holds only what the platform gave: a metric the
platform does not report is *absent*, never 0. When nothing can be read (no permission, no
metrics on the platform, collection not switched on) the adapter raises
``MetricsNotAvailable`` with the reason in words; rate limits and outages raise the usual
``RateLimited`` / ``Transient`` / ``AuthExpired``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from publishers.base import PublishError

IMPRESSIONS = "impressions"  # impressions or views, as the platform counts them
LIKES = "likes"  # likes, favourites, reactions
REPOSTS = "reposts"  # reposts, reblogs, retweets, shares
REPLIES = "replies"  # replies, comments
QUOTES = "quotes"
SAVES = "saves"  # bookmarks, saves
LINK_CLICKS = "link_clicks"  # from Poise's own tracked links, not from the platform
FOLLOWERS = "followers"  # the account's followers when read (a denominator)
ENGAGING = (LIKES, REPOSTS, REPLIES, QUOTES, SAVES, LINK_CLICKS)
ALL = (IMPRESSIONS, *ENGAGING, FOLLOWERS)


class MetricsNotAvailable(PublishError):
    """The platform gives no metrics for this post or account (permission, plan, opt-in)."""


class MetricsNotYet(PublishError):
    """The platform has no figures for this post *yet* (Instagram answers "(#10) Not enough
    viewers for the media to show insights"): nothing is recorded, the next step tries again."""


def missing_permission(platform: str, permission: str, words: str = "",
                       status: int | None = None) -> MetricsNotAvailable:
    """The one wording of a refused metrics read: shown as such, never as zero."""
    said = f" ({platform} said: {words})" if words else ""
    return MetricsNotAvailable(f"not available: permission {permission} missing{said}",
                               status=status)


def pick(source: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, float]:
    """``{normalised: float(source[platform name])}`` for the names present and numeric."""
    out: dict[str, float] = {}
    for platform_name, name in mapping.items():
        value = source.get(platform_name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if value >= 0:
            out[name] = out.get(name, 0.0) + float(value)
    return out


def read_refused(platform: str, status: int, words: str) -> MetricsNotAvailable:
    """A 403/404 on a metrics read: the permission is missing or the post is gone."""
    if status == 404:
        return MetricsNotAvailable(f"{platform} no longer has this post (deleted?)",
                                   status=status)
    return MetricsNotAvailable(f"{platform} does not give this app the post's metrics: "
                               f"{words or 'permission missing'}", status=status)


def graph_insights(body: Mapping[str, Any]) -> dict[str, Any]:
    """``{name: value}`` from a Graph insights answer ``{"data": [{"name", "values": [..]}]}``.

    Instagram and Threads leave a metric out (an empty set) rather than say 0 when they
    have nothing (https://developers.facebook.com/docs/instagram-platform/reference/
    instagram-media/insights), so what is absent stays absent.
    """
    out: dict[str, Any] = {}
    for item in body.get("data") or []:
        if not isinstance(item, dict):
            continue
        values = item.get("values") or []
        value = values[0].get("value") if values and isinstance(values[0], dict) else None
        if value is None:
            value = (item.get("total_value") or {}).get("value")
        out[str(item.get("name", ""))] = value
    return out
