"""What Facebook, Instagram and Threads share: Graph API errors and the container flow.

Graph answers errors as ``{"error": {"message", "type", "code", "error_subcode",
"error_user_msg"}}``, often with HTTP 400 whatever the cause, so the code decides the class.
"""

from __future__ import annotations

import json
import logging
import re
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from publishers import http
from publishers.base import (
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    OutcomeUnknown,
    PublishContext,
    PublishError,
    PublishResult,
    RateLimited,
    Transient,
)
from publishers.dm import final_text
from publishers.metrics import (
    MetricsNotAvailable,
    MetricsNotYet,
    graph_insights,
    missing_permission,
    pick,
)
from publishers.versions import GRAPH_DEFAULT

log = logging.getLogger(__name__)

# Graph API versions are available about two years; a call to an expired one is served by
# the oldest available version instead, so an old default silently changes behaviour. The
# default and the sunset days live in publishers/versions.py.
_GRAPH_VERSION = re.compile(r"^v\d{1,2}\.0$")
AUTH_CODES = {102, 190, 463, 467}
PERMISSION_CODES = {10} | set(range(200, 300))
RATE_LIMIT_CODES = {4, 9, 17, 32, 613} | set(range(80001, 80015))
DUPLICATE_CODES = {506}
TRANSIENT_CODES = {1, 2}


def valid_graph_version(version: str) -> bool:
    """``vNN.0``: the shape every Graph API version has had since v3.0."""
    return bool(_GRAPH_VERSION.match(version))


def graph_version(account: AccountRef, default: str = GRAPH_DEFAULT) -> str:
    """The version for this account: a per-account override, the operator's setting
    (``api_version``, from POISE_META_GRAPH_VERSION), else the default."""
    return account.credentials.get("graph_version") or account.api_version or default


def graph_error(resp: requests.Response) -> dict[str, Any]:
    error = http.json_or_empty(resp).get("error")
    return error if isinstance(error, dict) else {}


def reason(resp: requests.Response) -> str:
    error = graph_error(resp)
    return str(error.get("error_user_msg") or error.get("message") or resp.reason or "")


def reset_at(resp: requests.Response) -> datetime:
    """Meta sends usage percentages, not reset times; the business-use-case header may say
    how many minutes until access returns."""
    raw = resp.headers.get("X-Business-Use-Case-Usage", "")
    minutes = 0
    try:
        usage = json.loads(raw) if raw else {}
        for entries in usage.values() if isinstance(usage, dict) else []:
            for entry in entries if isinstance(entries, list) else []:
                minutes = max(minutes, int(entry.get("estimated_time_to_regain_access") or 0))
    except (ValueError, TypeError, AttributeError):
        minutes = 0
    if minutes:
        return datetime.now(UTC) + timedelta(minutes=minutes)
    return http.reset_at(resp.headers)


def classify(resp: requests.Response, *, platform: str, creates: bool,
             duplicate_is_unknown: bool = False) -> None:
    """Raise the typed outcome of a Graph API error response."""
    if resp.ok:
        return
    error = graph_error(resp)
    code = int(error.get("code") or 0)
    subcode = int(error.get("error_subcode") or 0)
    words = reason(resp)
    detail = resp.text[:500]
    outcome: PublishError | None = None
    if code in AUTH_CODES or subcode in AUTH_CODES:
        outcome = AuthExpired(f"{platform} refused the access token: {words}",
                              status=resp.status_code, detail=detail)
    elif code in PERMISSION_CODES:
        outcome = AuthExpired(f"{platform} says the app lacks a permission: {words}",
                              status=resp.status_code, detail=detail)
    elif code in RATE_LIMIT_CODES:
        outcome = RateLimited(f"{platform} rate limit reached: {words}", reset_at=reset_at(resp),
                              status=resp.status_code, detail=detail)
    elif code in DUPLICATE_CODES:
        if duplicate_is_unknown:
            outcome = OutcomeUnknown(
                f"{platform} says this duplicates a recent post, probably the earlier attempt",
                status=resp.status_code, detail=detail, duplicate=True)
        else:
            outcome = ContentRejected(f"{platform} rejected the post as a duplicate: {words}",
                                      status=resp.status_code, detail=detail)
    elif (code in TRANSIENT_CODES or error.get("is_transient")) and resp.status_code < 500:
        outcome = (OutcomeUnknown if creates else Transient)(
            f"{platform} had a temporary problem: {words}", status=resp.status_code,
            detail=detail)
    if outcome is not None:
        raise outcome
    # "A 500 may still have posted": with no idempotency, 5xx on a create is unknown.
    http.classify(resp, platform=platform, creates=creates, idempotent=False,
                  reason=reason, reset=reset_at)


def call(method: str, url: str, *, platform: str, token: str, timeout: float,
         creates: bool = False, duplicate_is_unknown: bool = False,
         params: dict[str, Any] | None = None,
         data: dict[str, Any] | None = None, files: dict[str, Any] | None = None,
         ) -> dict[str, Any]:
    """One Graph call with the token as a parameter, classified, returning the JSON body."""
    if method == "GET":
        params = {**(params or {}), "access_token": token}
    else:
        data = {**(data or {}), "access_token": token}
    resp = http.request(method, url, timeout=timeout, creates=creates, params=params, data=data,
                        files=files)
    classify(resp, platform=platform, creates=creates, duplicate_is_unknown=duplicate_is_unknown)
    return http.json_or_empty(resp)


# --- metrics reads (issue 15) -------------------------------------------------------------------

# Graph's permission errors: code 10 "API Permission Denied" and 200-299 "API Permission"
# (https://developers.facebook.com/docs/graph-api/guides/error-handling). Instagram also uses
# code 10 for "(#10) Not enough viewers for the media to show insights"
# (https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights),
# which is not a missing permission: the figures may come once more people saw the post.
_NOT_ENOUGH_VIEWERS = "not enough viewers"
_NAMED_PERMISSION = re.compile(r"\b([a-z]+(?:_[a-z]+)+)\b")


def metrics_refusal(exc: PublishError, platform: str,
                    needed: tuple[str, ...]) -> PublishError:
    """What a refused Graph metrics read means for the collector.

    A permission error becomes "not available: permission X missing" (X is the permission
    Graph's message names when it names one of ``needed``, else the first of ``needed``, the
    documented permission of the endpoint); "not enough viewers" becomes ``MetricsNotYet``;
    an object Graph cannot load (code 100, subcode 33) is "not available"; anything else (an
    expired token, a rate limit, an outage) is left as it is.
    """
    try:
        error = json.loads(exc.detail).get("error") or {}
        code = int(error.get("code") or 0)
        subcode = int(error.get("error_subcode") or 0)
        words = str(error.get("message") or "")
    except (ValueError, TypeError, AttributeError):
        return exc
    if code in PERMISSION_CODES and _NOT_ENOUGH_VIEWERS in words.lower():
        return MetricsNotYet(f"{platform} has no insights for this post yet: {words}",
                             status=exc.status)
    if code in PERMISSION_CODES:
        named = [p for p in _NAMED_PERMISSION.findall(words) if p in needed]
        return missing_permission(platform, named[0] if named else needed[0], words,
                                  status=exc.status)
    if code == 100 and subcode == 33:
        return MetricsNotAvailable(f"not available: {platform} cannot load this post "
                                   f"(deleted, or not this account's): {words}",
                                   status=exc.status)
    return exc


def read_followers(publisher_call: Any, path: str, account: AccountRef, *, platform: str,
                   field: str, needed: tuple[str, ...], timeout: float) -> float:
    """``GET /{id}?fields=followers_count`` (Facebook Page, Instagram user): the number, or
    a refusal in the words of ``metrics_refusal``."""
    try:
        body = publisher_call("GET", path, account, timeout=timeout, params={"fields": field})
    except PublishError as exc:
        raise metrics_refusal(exc, platform, needed) from exc
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise MetricsNotAvailable(f"not available: {platform} gave no {field}")
    return float(value)


class ContainerPublisher(ABC):
    """Instagram and Threads: create a container, checkpoint its id, then publish it.

    On a retry the container's status decides: PUBLISHED -> find the post, FINISHED ->
    publish it, IN_PROGRESS -> wait, EXPIRED/ERROR -> a new container.
    """

    platform = ""
    label = ""
    public_api = ""
    default_version = ""
    create_edge = ""  # "media" | "threads"
    publish_edge = ""  # "media_publish" | "threads_publish"
    status_field = ""  # "status_code" | "status"
    caption_field = ""  # "caption" | "text"
    poll_seconds = 1.0
    poll_attempts = 10
    # Media insights (issue 15): the metrics asked for, their normalised names, and the
    # documented permission(s) of the insights endpoint (first: the one to name when refused).
    insights_metrics: tuple[str, ...] = ()
    insights_names: dict[str, str] = {}

    def _root(self, account: AccountRef) -> str:
        version = graph_version(account, self.default_version)
        return f"{http.base_url(account.api_base, self.public_api)}/{version}"

    def _token(self, account: AccountRef) -> str:
        return account.credentials.get("access_token", "")

    def _user(self, account: AccountRef) -> str:
        if not account.external_id:
            raise ContentRejected(f"The {self.label} account has no user id; reconnect it.")
        return account.external_id

    def _call(self, method: str, path: str, account: AccountRef, *, timeout: float,
              creates: bool = False, params: dict[str, Any] | None = None,
              data: dict[str, Any] | None = None) -> dict[str, Any]:
        return call(method, f"{self._root(account)}/{path}", platform=self.label,
                    token=self._token(account), timeout=timeout, creates=creates,
                    params=params, data=data)

    @abstractmethod
    def container_fields(self, content: Content, account: AccountRef) -> dict[str, Any]:
        """The container's fields, named the platform's way."""

    def check_quota(self, account: AccountRef, timeout: float) -> None:  # noqa: B027
        """Raise RateLimited when the account may publish nothing more for now (a hook:
        only platforms with a readable publishing quota override it)."""

    def quota_reached(self, exc: RateLimited, account: AccountRef,
                      timeout: float) -> RateLimited:
        """A rate limit on publish, with the time it really ends where that can be known."""
        return exc

    def check_connection(self, account: AccountRef) -> str:
        body = self._call("GET", self._user(account), account, timeout=15.0,
                          params={"fields": "id,username,name"})
        return str(body.get("name") or body.get("username") or account.handle)

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        timeout = ctx.timeout_seconds
        container = ctx.state.get("container_id", "")
        if container:
            status = self._status(container, account, timeout)
            if status == "PUBLISHED":
                found = self._find_published(content, account, ctx)
                if found is None:
                    raise OutcomeUnknown(f"The {self.label} container was published but the "
                                         f"post could not be found.")
                return found
            if status in ("EXPIRED", "ERROR"):
                container = ""
        self.check_quota(account, timeout)
        if not container:
            body = self._call("POST", f"{self._user(account)}/{self.create_edge}", account,
                              timeout=timeout, data=self.container_fields(content, account))
            container = str(body.get("id", ""))
            if not container:
                raise Transient(f"{self.label} did not return a container id.")
            ctx.state["container_id"] = container
            ctx.checkpoint(ctx.state)
        self._wait_finished(container, account, timeout)
        try:
            body = self._call("POST", f"{self._user(account)}/{self.publish_edge}", account,
                              timeout=timeout, creates=True, data={"creation_id": container})
        except RateLimited as exc:
            raise self.quota_reached(exc, account, timeout) from exc
        post_id = str(body.get("id", ""))
        if not post_id:
            raise OutcomeUnknown(f"{self.label} answered without a post id.")
        return PublishResult(remote_id=post_id, url=self._permalink(post_id, account, timeout))

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        container = ctx.state.get("container_id", "")
        if not container:
            return None  # the container id is checkpointed before publishing, so none was
        status = self._status(container, account, ctx.timeout_seconds)
        if status != "PUBLISHED":
            return None
        found = self._find_published(content, account, ctx)
        if found is None:
            raise OutcomeUnknown(f"The {self.label} container says published, but the post is "
                                 f"not among the account's recent posts.")
        return found

    def _status(self, container: str, account: AccountRef, timeout: float) -> str:
        try:
            body = self._call("GET", container, account, timeout=timeout,
                              params={"fields": f"id,{self.status_field}"})
        except ContentRejected as exc:
            # Without the container's status nobody can tell whether it was published.
            raise OutcomeUnknown(f"Could not read the {self.label} container's status: "
                                 f"{exc.reason}", status=exc.status) from exc
        status = str(body.get(self.status_field, "")).upper()
        if not status:
            raise OutcomeUnknown(f"{self.label} did not say what became of the container.")
        return status

    def _wait_finished(self, container: str, account: AccountRef, timeout: float) -> None:
        for _ in range(self.poll_attempts):
            status = self._status(container, account, timeout)
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                raise ContentRejected(f"{self.label} could not process the media ({status}).")
            time.sleep(self.poll_seconds)
        raise Transient(f"{self.label} is still processing the media; try again later.")

    def _find_published(self, content: Content, account: AccountRef,
                        ctx: PublishContext) -> PublishResult | None:
        wanted = final_text(content, account)
        body = self._call("GET", f"{self._user(account)}/{self.create_edge}", account,
                          timeout=ctx.timeout_seconds,
                          params={"fields": f"id,{self.caption_field},permalink,timestamp",
                                  "limit": 25})
        for item in body.get("data") or []:
            if isinstance(item, dict) and str(item.get(self.caption_field, "")) == wanted:
                return PublishResult(remote_id=str(item.get("id", "")),
                                     url=str(item.get("permalink", "")))
        return None

    def _permalink(self, post_id: str, account: AccountRef, timeout: float) -> str:
        try:
            body = self._call("GET", post_id, account, timeout=timeout,
                              params={"fields": "permalink"})
        except PublishError:
            return ""  # the post exists; a missing link is not worth failing for
        return str(body.get("permalink", ""))

    # --- shared by Instagram and Threads: token refresh, media insights ------------------

    def _refresh_long_lived(self, base: str, grant_type: str, token: str, *,
                            timeout: float) -> tuple[str, str]:
        """``GET {base}/refresh_access_token?grant_type=...``: (new token, expires_at or "").
        One call, no retry: a failure is classified and raised."""
        resp = http.request("GET", f"{base}/refresh_access_token", timeout=timeout,
                            params={"grant_type": grant_type, "access_token": token})
        classify(resp, platform=self.label, creates=False)
        body = http.json_or_empty(resp)
        fresh = str(body.get("access_token") or "")
        if not fresh:
            raise Transient(f"{self.label} answered the refresh without a token; trying "
                            f"again later.")
        expires = str(body.get("expires_in", ""))
        return fresh, str(int(time.time()) + int(expires)) if expires.isdigit() else ""

    def insights_permissions(self, account: AccountRef) -> tuple[str, ...]:
        """The documented permission(s) the insights endpoints need for this account."""
        return ()

    def fetch_metrics(self, content_ref: str, account: AccountRef, *,
                      timeout: float = 15.0) -> dict[str, float]:
        """``GET /{media-id}/insights?metric=...``: the media's lifetime figures. A metric
        Meta leaves out (no data yet) stays absent; a refused read says which permission is
        missing (``metrics_refusal``)."""
        try:
            body = self._call("GET", f"{content_ref}/insights", account, timeout=timeout,
                              params={"metric": ",".join(self.insights_metrics)})
        except PublishError as exc:
            raise metrics_refusal(exc, self.label, self.insights_permissions(account)) from exc
        return pick(graph_insights(body), self.insights_names)
