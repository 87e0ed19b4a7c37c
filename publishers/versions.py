"""The platform API versions Poise uses and their documented sunset dates: pure data.

One row per platform. ``docs/platforms.md`` shows the same table; the planner reads it to warn
admins ``WARN_DAYS`` before a sunset and to hold publishing to a platform after it (instead of
letting every post fail on its own). Nothing here touches the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

WARN_DAYS = 60

# LinkedIn: "LinkedIn Marketing APIs ... are supported and stable for a minimum of one year
# before sunset"; the migrations table then names the day (202410 -> 2025-10-15, 202411 ->
# 2025-11-17; 202510 was sunset on 2026-10-15).
# https://learn.microsoft.com/en-us/linkedin/marketing/versioning
# https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations
LINKEDIN_VERSIONING = "https://learn.microsoft.com/en-us/linkedin/marketing/versioning"
LINKEDIN_MIGRATIONS = "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations"
# The newest version with a published source when this was written (202607, July 2026).
LINKEDIN_DEFAULT = "202607"
# Sunset days the migrations table names; other versions: one year after release, on the 15th.
LINKEDIN_SUNSETS: dict[str, date] = {
    "202409": date(2025, 9, 15),
    "202410": date(2025, 10, 15),
    "202411": date(2025, 11, 17),
    "202510": date(2026, 10, 15),
    "202511": date(2026, 11, 16),
    "202601": date(2027, 1, 15),
    "202602": date(2027, 2, 15),
    "202603": date(2027, 3, 16),
}
_LINKEDIN_VERSION = re.compile(r"^(20\d\d)(0[1-9]|1[0-2])$")

# Graph API: each version is available for at least two years (the changelog's "Available
# Until" column; v26.0, released 2026-07-29, had no date yet).
# https://developers.facebook.com/docs/graph-api/changelog/versions
GRAPH_VERSIONS = "https://developers.facebook.com/docs/graph-api/changelog/versions"
# The default of POISE_META_GRAPH_VERSION: released 2026-02-18, available until 2028-07-29.
GRAPH_DEFAULT = "v25.0"
GRAPH_SUNSETS: dict[str, date] = {
    "v20.0": date(2026, 9, 24),
    "v21.0": date(2027, 1, 21),
    "v22.0": date(2027, 5, 20),
    "v23.0": date(2027, 10, 8),
    "v24.0": date(2028, 2, 18),
    "v25.0": date(2028, 7, 29),
}

State = Literal["ok", "soon", "sunset"]


@dataclass(frozen=True)
class ApiVersion:
    platform: str
    version: str
    where_set: str  # the setting, or "fixed" when the platform has no dated versions
    sunset: date | None  # None: no documented sunset for this API
    source: str
    estimated: bool = False  # the day is derived from the policy, not yet published

    def state(self, today: date) -> State:
        if self.sunset is None:
            return "ok"
        if today >= self.sunset:
            return "sunset"
        if today >= self.sunset - timedelta(days=WARN_DAYS):
            return "soon"
        return "ok"

    def describe(self) -> str:
        when = "" if self.sunset is None else (
            f"{'about ' if self.estimated else ''}{self.sunset.isoformat()}")
        return f"{self.platform} API version {self.version}" + (
            f" (sunset {when})" if when else "")


def valid_linkedin_version(version: str) -> bool:
    return bool(_LINKEDIN_VERSION.match(version))


def linkedin_sunset(version: str) -> tuple[date | None, bool]:
    """(sunset day, estimated?) of a LinkedIn version ``YYYYMM``; (None, False) if garbled."""
    if version in LINKEDIN_SUNSETS:
        return LINKEDIN_SUNSETS[version], False
    match = _LINKEDIN_VERSION.match(version)
    if not match:
        return None, False
    return date(int(match.group(1)) + 1, int(match.group(2)), 15), True


def in_use(*, linkedin_version: str = LINKEDIN_DEFAULT,
           graph_version: str = GRAPH_DEFAULT) -> tuple[ApiVersion, ...]:
    """The table: what each platform adapter calls, with the settings' values filled in."""
    linkedin_day, linkedin_estimated = linkedin_sunset(linkedin_version)
    graph_day = GRAPH_SUNSETS.get(graph_version)
    return (
        ApiVersion("x", "API v2", "fixed", None, "https://docs.x.com/x-api/introduction"),
        ApiVersion("mastodon", "REST v1/v2 (server's own)", "fixed", None,
                   "https://docs.joinmastodon.org/api/"),
        ApiVersion("bluesky", "AT Protocol XRPC lexicons", "fixed", None,
                   "https://docs.bsky.app/docs/api/at-protocol-xrpc-api"),
        ApiVersion("linkedin", linkedin_version, "POISE_LINKEDIN_VERSION", linkedin_day,
                   LINKEDIN_MIGRATIONS, estimated=linkedin_estimated),
        ApiVersion("facebook", graph_version, "POISE_META_GRAPH_VERSION", graph_day,
                   GRAPH_VERSIONS),
        ApiVersion("instagram", graph_version, "POISE_META_GRAPH_VERSION", graph_day,
                   GRAPH_VERSIONS),
        ApiVersion("threads", "v1.0", "fixed", None,
                   "https://developers.facebook.com/docs/threads"),
        ApiVersion("webhook", "Standard Webhooks", "fixed", None,
                   "https://www.standardwebhooks.com/"),
    )
