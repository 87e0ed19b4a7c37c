"""``FakePlatform``: every platform's publishing endpoints on one loopback server.

Paths do not collide between platforms (Mastodon ``/api/...``, Bluesky ``/xrpc/...``, X
``/2/...``, LinkedIn ``/rest/...`` and ``/v2/userinfo``, Graph ``/vNN.N/...``, webhooks
``/webhook/...``), so one ``base_url`` serves as ``api_base`` for any account. What the fake
accepts is listed in ``credentials_for()``.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import html
import json
import re
import time
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from publishers.text import count, graphemes, threads_length, threads_links, x_urls
from publishers.versions import linkedin_sunset
from publishers.webhook import verify_signature
from sandbox.core import (
    FakeCore,
    FakeError,
    FakeRequest,
    FakeResponse,
    platform_error,
)
from sandbox.metrics import GraphMetrics, fake_counts
from sandbox.oauth import OAuthRoutes
from sandbox.viewer import VIEW_PATH, PostViews

Handler = Callable[[FakeRequest], FakeResponse]

TOKEN = "fake-token"  # noqa: S105 (the fake's own test credentials)
X_CONSUMER_KEY = "fake-consumer-key"
X_CONSUMER_SECRET = "fake-consumer-secret"  # noqa: S105 (the fake's own test credentials)
X_TOKEN_SECRET = "fake-token-secret"  # noqa: S105 (the fake's own test credentials)
X_CLIENT_ID = "fake-client-id"
X_REFRESH_TOKEN = "fake-refresh-token"  # noqa: S105 (the fake's own test credentials)
X_USER_ID = "1000000001"
BLUESKY_PASSWORD = "fake-app-password"  # noqa: S105 (the fake's own test credentials)
MASTODON_ACCOUNT_ID = "109000000000000001"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"poise-fake-webhook-secret-0001").decode()
IDEMPOTENCY_SECONDS = 3600
_GRAPH = re.compile(r"^/(v\d+\.\d+)/([^/]+)(?:/(\w+))?$")
_URL = re.compile(r"https?://\S+")


def _did(handle: str) -> str:
    return "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + ".000Z"


def _from_iso(text: str) -> float:
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


class FakePlatform(PostViews, GraphMetrics, OAuthRoutes, FakeCore):
    """All platforms' APIs on loopback, with failure injection (see ``FakeCore.inject``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency_ms: float = 0,
                 hang_seconds: float = 5.0, mastodon_max_characters: int = 500,
                 container_polls: int = 0, media_processing_polls: int = 0,
                 webhook_secret: str = WEBHOOK_SECRET) -> None:
        super().__init__(host, port, latency_ms=latency_ms, hang_seconds=hang_seconds)
        self.mastodon_max_characters = mastodon_max_characters
        # Seconds a Mastodon create spends between checking the Idempotency-Key and storing
        # the status (and only then the key): a repeat inside that time makes a second status.
        self.mastodon_create_seconds = 0.0
        # Instagram: API-published posts allowed per moving 24 hours (content-publishing
        # guide: 100); content_publishing_limit reports the use, media_publish enforces it.
        self.instagram_publish_quota = 100
        self.container_polls = container_polls  # status reads before a container is FINISHED
        self.media_processing_polls = media_processing_polls
        self.webhook_secret = webhook_secret
        # A hostile instance (or proxy) answering with any status ``url`` it likes: the
        # Status entity's url is the instance's word, nothing more
        # (https://docs.joinmastodon.org/entities/Status/#url). Empty = a real-looking one.
        self.mastodon_status_url = ""
        self._routes: list[tuple[str, re.Pattern[str], str, str, Handler]] = [
            ("GET", re.compile(r"^/api/v2/instance$"), "mastodon", "read", self._m_instance),
            ("GET", re.compile(r"^/api/v1/accounts/verify_credentials$"), "mastodon", "read",
             self._m_verify),
            ("GET", re.compile(r"^/api/v1/accounts/[^/]+/statuses$"), "mastodon", "read",
             self._m_list),
            ("POST", re.compile(r"^/api/v1/statuses$"), "mastodon", "create", self._m_create),
            ("POST", re.compile(r"^/api/v2/media$"), "mastodon", "upload", self._m_upload),
            ("GET", re.compile(r"^/api/v1/media/[^/]+$"), "mastodon", "read", self._m_media),
            ("POST", re.compile(r"^/xrpc/com\.atproto\.server\.createSession$"), "bluesky",
             "auth", self._b_create_session),
            ("POST", re.compile(r"^/xrpc/com\.atproto\.server\.refreshSession$"), "bluesky",
             "auth", self._b_refresh_session),
            ("POST", re.compile(r"^/xrpc/com\.atproto\.repo\.createRecord$"), "bluesky",
             "create", self._b_create_record),
            ("GET", re.compile(r"^/xrpc/com\.atproto\.repo\.getRecord$"), "bluesky", "read",
             self._b_get_record),
            ("POST", re.compile(r"^/xrpc/com\.atproto\.repo\.uploadBlob$"), "bluesky",
             "upload", self._b_upload),
            ("GET", re.compile(r"^/xrpc/app\.bsky\.actor\.getProfile$"), "bluesky", "read",
             self._b_profile),
            ("GET", re.compile(r"^/xrpc/app\.bsky\.feed\.getAuthorFeed$"), "bluesky", "read",
             self._b_feed),
            ("GET", re.compile(r"^/xrpc/com\.atproto\.identity\.resolveHandle$"), "bluesky",
             "read", self._b_resolve),
            ("GET", re.compile(r"^/did:plc:[a-z0-9]+$"), "bluesky", "read", self._b_plc),
            ("POST", re.compile(r"^/2/tweets$"), "x", "create", self._x_create),
            ("GET", re.compile(r"^/2/users/me$"), "x", "read", self._x_me),
            ("GET", re.compile(r"^/2/users/\d+/tweets$"), "x", "read", self._x_list),
            ("POST", re.compile(r"^/2/media/upload$"), "x", "upload", self._x_upload),
            ("POST", re.compile(r"^/2/oauth2/token$"), "x", "auth", self._x_token),
            ("GET", re.compile(r"^/2/dm_events$"), "x", "read", self._x_dm_events),
            ("POST", re.compile(r"^/2/dm_conversations/with/[^/]+/messages$"), "x", "dm",
             self._x_dm_send),
            ("POST", re.compile(r"^/rest/posts$"), "linkedin", "create", self._l_create),
            ("GET", re.compile(r"^/rest/posts$"), "linkedin", "read", self._l_list),
            ("GET", re.compile(r"^/v2/userinfo$"), "linkedin", "read", self._l_userinfo),
            ("POST", re.compile(r"^/rest/images$"), "linkedin", "upload", self._l_init_upload),
            ("PUT", re.compile(r"^/li-upload/\d+$"), "linkedin", "upload", self._l_put_image),
            ("POST", re.compile(r"^/webhook(/.*)?$"), "webhook", "create", self._w_receive),
            *self.oauth_routes(),
            # Metrics reads (issue 15).
            ("GET", re.compile(r"^/api/v1/statuses/\d+$"), "mastodon", "read",
             self._m_status),
            ("GET", re.compile(r"^/xrpc/app\.bsky\.feed\.getPosts$"), "bluesky", "read",
             self._b_get_posts),
            ("GET", re.compile(r"^/2/tweets$"), "x", "read", self._x_lookup),
            ("GET", re.compile(r"^/rest/socialActions/[^/]+$"), "linkedin", "read",
             self._l_social_actions),
            # A person's page per post (what "view the live post" opens in the demo).
            ("GET", VIEW_PATH, "view", "read", self._view),
        ]
        self.reset()

    # --- state ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every post, session, token change and injection."""
        with self.lock:
            self.reset_core()
            self.mastodon_status_url = ""
            self.tokens = {TOKEN}
            self._counter = 0
            self._m_statuses: list[dict[str, Any]] = []
            self._m_idempotency: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
            self._m_media_polls: dict[str, int] = {}
            self._b_access: dict[str, str] = {}  # access jwt -> did
            self._b_refresh: dict[str, str] = {}
            self._b_handles: dict[str, str] = {}  # did -> handle
            # handle -> (the PDS that hosts it, whether this server signs it in anyway)
            self._b_elsewhere: dict[str, tuple[str, bool]] = {}
            self._b_records: dict[tuple[str, str, str], dict[str, Any]] = {}
            self._x_tweets: list[dict[str, Any]] = []
            self._x_refresh_tokens = {X_REFRESH_TOKEN}
            self._x_dms: list[dict[str, Any]] = []  # DM events, newest last
            self._x_media: set[str] = set()
            self.x_dm_events_read = 0  # what X would bill for DM reads
            self.x_credits = True  # False: the developer account ran out (402)
            self._l_posts: list[dict[str, Any]] = []
            self._l_images: dict[str, dict[str, Any]] = {}  # image URN -> owner, upload
            # "today" for LinkedIn's version check; tests move it to reach a sunset.
            self.linkedin_today: date | None = None
            self._g_objects: dict[str, dict[str, Any]] = {}
            self._w_seen: dict[str, str] = {}
            self.reset_oauth()
            self.reset_views()
            self.reset_metrics()

    def lookup_post(self, platform: str, remote_id: str) -> tuple[str, str, float] | None:
        """(handle, text, created epoch) of a post this fake received, for its page."""
        with self.lock:
            if platform == "x":
                for tweet in self._x_tweets:
                    if tweet["id"] == remote_id:
                        return "@poise", tweet["text"], tweet["at"]
            elif platform == "mastodon":
                for status in self._m_statuses:
                    if status["id"] == remote_id:
                        text = re.sub(r"<[^>]+>", "", status["content"].replace("<br />", "\n"))
                        return ("@poise", html.unescape(text),
                                _from_iso(status["created_at"]))
            elif platform == "bluesky":
                for (did, _, _), record in self._b_records.items():
                    if record["uri"] == remote_id:
                        return (self._b_handles.get(did, did), str(record["value"].get("text", "")),
                                _from_iso(record["indexedAt"]))
            elif platform == "linkedin":
                for post in self._l_posts:
                    if post["id"] == remote_id:
                        # commentary is "little text": reserved characters come
                        # backslash-escaped (.../shares/little-text-format); shown as read.
                        text = re.sub(r"\\(.)", r"\1", post["commentary"])
                        return post["author"], text, post["createdAt"] / 1000
            else:
                item = self._g_objects.get(remote_id)
                if item is not None and item.get("platform", platform) == platform:
                    text = str(item.get("message") or item.get("caption") or item.get("text")
                               or "")
                    at = item.get("created_time") or item.get("timestamp") or time.time()
                    return str(item.get("page") or item.get("user") or ""), text, float(at)
        return None

    def _next_id(self) -> str:
        with self.lock:
            self._counter += 1
            return str(self._counter)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for everything stored: posts look older, idempotency keys
        age (Mastodon forgets them after an hour) and rkeys' records keep their key."""
        with self.lock:
            for status in self._m_statuses:
                status["created_at"] = _iso(_from_iso(status["created_at"]) - seconds)
            self._m_idempotency = {key: (at - seconds, status)
                                   for key, (at, status) in self._m_idempotency.items()}
            for tweet in self._x_tweets:
                tweet["at"] -= seconds
            for post in self._l_posts:
                post["createdAt"] -= int(seconds * 1000)
            for record in self._b_records.values():
                record["indexedAt"] = _iso(_from_iso(record["indexedAt"]) - seconds)
            for item in self._g_objects.values():
                for name in ("created_time", "timestamp"):
                    if isinstance(item.get(name), float | int):
                        item[name] -= seconds

    def host_bluesky_elsewhere(self, handle: str, pds_url: str, *,
                               signs_in: bool = False) -> None:
        """Say that ``handle``'s repo lives on another PDS (a second fake): its DID document
        names that PDS, this server refuses writes to it, and signs it in only when
        ``signs_in`` (bsky.social's entryway signs in the accounts of its own PDS hosts)."""
        with self.lock:
            self._b_elsewhere[handle] = (pds_url.rstrip("/"), signs_in)
            self._b_handles[_did(handle)] = handle

    def share_bluesky_sessions(self, pds: FakePlatform) -> None:
        """Let ``pds`` accept the sessions this server issues, as bsky.social's PDS hosts
        accept the entryway's tokens."""
        with self.lock:
            pds._b_access, pds._b_refresh = self._b_access, self._b_refresh
            pds._b_handles = self._b_handles

    def expire_bluesky_sessions(self) -> None:
        """Make every issued access token answer ExpiredToken (refresh tokens stay valid)."""
        with self.lock:
            self._b_access.clear()

    def set_container_status(self, container_id: str, status: str) -> None:
        with self.lock:
            self._g_objects[container_id]["status"] = status

    def graph_object(self, object_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self._g_objects[object_id])

    # --- routing --------------------------------------------------------------------------

    def route(self, req: FakeRequest) -> tuple[str, str, Handler | None]:
        for method, pattern, platform, op, handler in self._routes:
            if req.method == method and pattern.match(req.path):
                return platform, op, handler
        match = _GRAPH.match(req.path)
        if match:
            version, object_id, edge = match.groups()
            platform, op, graph_handler = self._graph_route(req.method, version, edge)
            if edge is None:
                with self.lock:  # an object read belongs to the platform that made it
                    known = self._g_objects.get(object_id, {})
                platform = str(known.get("platform", platform))
            return platform, op, graph_handler
        return "unknown", "read", None

    def _graph_route(self, method: str, version: str,
                     edge: str | None) -> tuple[str, str, Handler | None]:
        table: dict[tuple[str, str | None], tuple[str, str, Handler]] = {
            ("POST", "feed"): ("facebook", "create", self._g_feed_create),
            ("GET", "feed"): ("facebook", "read", self._g_feed_list),
            ("POST", "photos"): ("facebook", "create", self._g_photo),
            ("POST", "media"): ("instagram", "container", self._g_container),
            ("GET", "media"): ("instagram", "read", self._g_published_list),
            ("POST", "media_publish"): ("instagram", "create", self._g_publish),
            ("GET", "content_publishing_limit"): ("instagram", "read", self._g_publish_limit),
            ("POST", "messages"): ("facebook", "dm", self._g_send_message),
            ("POST", "threads"): ("threads", "container", self._g_container),
            ("GET", "threads"): ("threads", "read", self._g_published_list),
            ("POST", "threads_publish"): ("threads", "create", self._g_publish),
            ("GET", None): ("threads" if version == "v1.0" else "facebook", "read",
                            self._g_object),
            # Metrics reads (issue 15, sandbox/metrics.py).
            ("GET", "insights"): ("threads" if version == "v1.0" else "instagram", "read",
                                  self.g_insights),
            ("GET", "threads_insights"): ("threads", "read", self.g_threads_user_insights),
        }
        found = table.get((method, edge))
        return found if found else ("facebook", "read", None)

    # --- auth helpers ---------------------------------------------------------------------

    def _bearer(self, req: FakeRequest) -> str:
        auth = req.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.lock:
            if token not in self.tokens:
                raise FakeError(platform_error(req.platform, "401"))
        return token

    def _x_auth(self, req: FakeRequest) -> None:
        """OAuth 1.0a HMAC-SHA1 signatures (query and form parameters signed, JSON bodies
        not), else an OAuth 2.0 bearer token.
        https://docs.x.com/resources/fundamentals/authentication/oauth-1-0a/creating-a-signature
        https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token"""
        auth = req.headers.get("authorization", "")
        if not auth.startswith("OAuth "):
            self._bearer(req)
            return
        params = {key: oauth_utils.unescape(value)
                  for key, value in oauth_utils.parse_authorization_header(auth)}
        if params.get("oauth_consumer_key") != X_CONSUMER_KEY or params.get(
                "oauth_token") not in self.tokens:
            raise FakeError(platform_error("x", "401"))
        form = req.raw.decode() if req.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded") else None
        collected = oauth_signature.collect_parameters(
            uri_query=req.query_string, body=form, headers={"Authorization": auth},
            exclude_oauth_signature=True)
        base = oauth_signature.signature_base_string(
            req.method, oauth_signature.base_string_uri(req.base_url + req.path),
            oauth_signature.normalize_parameters(collected))
        secrets = SimpleNamespace(client_secret=X_CONSUMER_SECRET,
                                  resource_owner_secret=X_TOKEN_SECRET)
        expected = oauth_signature.sign_hmac_sha1_with_client(base, secrets)
        if expected != params.get("oauth_signature"):
            raise FakeError(FakeResponse(401, {"title": "Unauthorized", "status": 401,
                                               "detail": "Bad OAuth signature"}))

    def _graph_token(self, req: FakeRequest) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        token = req.query.get("access_token") or str(body.get("access_token", ""))
        auth = req.headers.get("authorization", "")
        if not token and auth.startswith("Bearer "):
            token = auth[7:]
        with self.lock:
            if token not in self.tokens:
                raise FakeError(platform_error(req.platform, "401"))

    # --- Mastodon -------------------------------------------------------------------------

    def _m_account(self) -> dict[str, Any]:
        # followers_count: the Account entity (https://docs.joinmastodon.org/entities/Account/).
        return {"id": MASTODON_ACCOUNT_ID, "username": "poise", "acct": "poise",
                "display_name": "Poise Demo", "url": f"{self.base_url}/@poise",
                "followers_count": self.followers_count, "following_count": 10,
                "statuses_count": len(self._m_statuses)}

    def _m_instance(self, req: FakeRequest) -> FakeResponse:
        return FakeResponse(200, {"domain": "fake.local", "configuration": {"statuses": {
            "max_characters": self.mastodon_max_characters, "max_media_attachments": 4}}})

    def _m_verify(self, req: FakeRequest) -> FakeResponse:
        self._bearer(req)
        return FakeResponse(200, self._m_account())

    def _m_list(self, req: FakeRequest) -> FakeResponse:
        self._bearer(req)
        limit = int(req.query.get("limit", "20"))
        with self.lock:
            return FakeResponse(200, list(reversed(self._m_statuses))[:limit])

    def _m_create(self, req: FakeRequest) -> FakeResponse:
        token = self._bearer(req)
        body = req.body if isinstance(req.body, dict) else {}
        text = str(body.get("status", ""))
        media_ids = body.get("media_ids") or body.get("media_ids[]") or []
        key = req.headers.get("idempotency-key", "")
        with self.lock:
            # The key is looked up when the request starts ... (mastodon/mastodon
            # app/services/post_status_service.rb, PostStatusService#call: redis.get of
            # idempotency:status:<account>:<key> before anything else)
            if key:
                seen = self._m_idempotency.get((token, key))
                if seen and time.time() - seen[0] < IDEMPOTENCY_SECONDS:
                    return FakeResponse(200, seen[1])
            # https://docs.joinmastodon.org/methods/statuses/#create: status or media_ids
            # required; 422 "Validation failed: Text can't be blank".
            if not text and not media_ids:
                return FakeResponse(422, {"error": "Validation failed: Text can't be blank"})
            # The instance limit (configuration.statuses.max_characters,
            # https://docs.joinmastodon.org/methods/instance/#v2), URLs counted as 23.
            used = count("mastodon", text, limit_override=self.mastodon_max_characters).used
            if used > self.mastodon_max_characters:
                return FakeResponse(422, {"error": "Validation failed: Text character limit "
                                                   f"of {self.mastodon_max_characters} exceeded"})
        if self.mastodon_create_seconds:
            time.sleep(self.mastodon_create_seconds)  # the work between the check and the store
        with self.lock:
            status_id = str(110000000000000000 + int(self._next_id()))
            status = {"id": status_id, "created_at": _iso(time.time()),
                      "content": _m_html(text, self.base_url),
                      "visibility": body.get("visibility", "public"),
                      "url": self.mastodon_status_url or f"{self.base_url}/@poise/{status_id}",
                      "uri": f"{self.base_url}/users/poise/statuses/{status_id}",
                      "media_attachments": [{"id": m} for m in media_ids],
                      "account": self._m_account()}
            self._m_statuses.append(status)
            # ... and stored only once the status exists (post_status_service.rb:
            # redis.setex(..., 3_600, status.id) at the end of #call): a repeat that arrives
            # before this line creates a second status.
            if key:
                self._m_idempotency[(token, key)] = (time.time(), status)
            self.record_create(req, status_id)
        return FakeResponse(200, status)

    def _m_upload(self, req: FakeRequest) -> FakeResponse:
        """POST /api/v2/media: 200 when processed at once, 202 Accepted while it is processed
        asynchronously (https://docs.joinmastodon.org/methods/media/#v2)."""
        self._bearer(req)
        media_id = str(120000000000000000 + int(self._next_id()))
        with self.lock:
            self._m_media_polls[media_id] = self.media_processing_polls
        status = 202 if self.media_processing_polls else 200
        return FakeResponse(status, {"id": media_id, "type": "image",
                                     "url": None if status == 202 else f"/m/{media_id}"})

    def _m_media(self, req: FakeRequest) -> FakeResponse:
        """GET /api/v1/media/:id: 206 Partial Content while processing, 200 when done, 404
        "Record not found" (https://docs.joinmastodon.org/methods/media/#get)."""
        self._bearer(req)
        media_id = req.path.rsplit("/", 1)[1]
        with self.lock:
            if media_id not in self._m_media_polls:
                return FakeResponse(404, {"error": "Record not found"})
            left = self._m_media_polls[media_id]
            self._m_media_polls[media_id] = max(0, left - 1)
        if left > 0:
            return FakeResponse(206, {"id": media_id, "url": None})
        return FakeResponse(200, {"id": media_id, "url": f"/m/{media_id}"})

    # --- Bluesky --------------------------------------------------------------------------

    def _b_pds_url(self, handle: str) -> str:
        with self.lock:
            return self._b_elsewhere.get(handle, (self.base_url, True))[0]

    def _b_self_url(self, req: FakeRequest) -> str:
        """This server as the client reached it (a container name, a forwarded port), so the
        DID documents it serves point back to an address that client can use."""
        host = req.headers.get("host", "")
        return f"http://{host}" if re.fullmatch(r"[\w.:-]+", host) else self.base_url

    def _b_did_doc(self, did: str, handle: str, req: FakeRequest) -> dict[str, Any]:
        """A DID document as https://atproto.com/specs/did describes it: the handle in
        alsoKnownAs, the PDS as the service with id #atproto_pds."""
        return {"@context": ["https://www.w3.org/ns/did/v1"], "id": did,
                "alsoKnownAs": [f"at://{handle}"],
                "verificationMethod": [{"id": f"{did}#atproto", "type": "Multikey",
                                        "controller": did,
                                        "publicKeyMultibase": "zQ3shFakeKeyForTheSandbox"}],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                             "serviceEndpoint": self._b_endpoint(handle, req)}]}

    def _b_endpoint(self, handle: str, req: FakeRequest) -> str:
        hosted_elsewhere = self._b_pds_url(handle)
        return self._b_self_url(req) if hosted_elsewhere == self.base_url else hosted_elsewhere

    def _b_tokens(self, did: str, req: FakeRequest) -> dict[str, Any]:
        access, refresh = f"access-{self._next_id()}", f"refresh-{self._next_id()}"
        with self.lock:
            self._b_access[access] = did
            self._b_refresh[refresh] = did
            handle = self._b_handles[did]
        # com.atproto.server.createSession / refreshSession output: didDoc is part of it
        # (lexicons/com/atproto/server/createSession.json).
        return {"did": did, "handle": handle, "accessJwt": access, "refreshJwt": refresh,
                "didDoc": self._b_did_doc(did, handle, req), "active": True}

    def _b_create_session(self, req: FakeRequest) -> FakeResponse:
        body = req.body if isinstance(req.body, dict) else {}
        handle = str(body.get("identifier") or "").lstrip("@")
        with self.lock:
            elsewhere = self._b_elsewhere.get(handle)
        # A server signs in only the accounts it hosts (or, as bsky.social's entryway, those
        # of its own PDS hosts): https://docs.bsky.app/docs/advanced-guides/entryway
        unknown_here = elsewhere is not None and not elsewhere[1] and (
            elsewhere[0] != self.base_url)
        if body.get("password") != BLUESKY_PASSWORD or not handle or unknown_here:
            return FakeResponse(401, {"error": "AuthenticationRequired",
                                      "message": "Invalid identifier or password"})
        did = _did(handle)
        with self.lock:
            self._b_handles[did] = handle
        return FakeResponse(200, self._b_tokens(did, req))

    def _b_refresh_session(self, req: FakeRequest) -> FakeResponse:
        token = req.headers.get("authorization", "")[7:]
        with self.lock:
            did = self._b_refresh.pop(token, None)
        if did is None:
            return FakeResponse(400, {"error": "ExpiredToken", "message": "Token has expired"})
        return FakeResponse(200, self._b_tokens(did, req))

    def _b_plc(self, req: FakeRequest) -> FakeResponse:
        """The PLC directory: GET /<did> answers the DID document (https://web.plc.directory
        /api/redoc, "Resolve DID"); 404 for a DID it does not know."""
        did = req.path.lstrip("/")
        with self.lock:
            handle = self._b_handles.get(did)
        if handle is None:
            return FakeResponse(404, {"message": f"DID not registered: {did}"})
        return FakeResponse(200, self._b_did_doc(did, handle, req))

    def _b_did(self, req: FakeRequest) -> str:
        token = req.headers.get("authorization", "")[7:]
        with self.lock:
            did = self._b_access.get(token)
        if did is None:
            if token.startswith("access-"):
                raise FakeError(platform_error("bluesky", "expired_token"))
            raise FakeError(FakeResponse(401, {"error": "AuthenticationRequired",
                                               "message": "Authentication Required"}))
        return did

    def _b_create_record(self, req: FakeRequest) -> FakeResponse:
        did = self._b_did(req)
        body = req.body if isinstance(req.body, dict) else {}
        repo, collection = body.get("repo"), str(body.get("collection", ""))
        rkey = str(body.get("rkey") or "")
        record = body.get("record") or {}
        if repo != did:
            return FakeResponse(400, {"error": "InvalidRequest", "message": "Invalid repo"})
        with self.lock:
            handle = self._b_handles.get(did, "")
        if self._b_pds_url(handle) != self.base_url:
            # A repo is written on the PDS that hosts it, the one its DID document names
            # (https://atproto.com/specs/did, "#atproto_pds").
            return FakeResponse(400, {"error": "InvalidRequest",
                                      "message": f"Could not find repo: {did}"})
        # app.bsky.feed.post is "key": "tid" (lexicons/app/bsky/feed/post.json): any valid
        # TID (https://atproto.com/specs/tid) - no rule ties it to the present.
        if not re.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", rkey):
            return FakeResponse(400, {"error": "InvalidRequest", "message": "Invalid rkey"})
        problem = _b_post_problem(record) if collection == "app.bsky.feed.post" else ""
        if problem:
            return FakeResponse(400, {"error": "InvalidRequest", "message":
                                      f"Invalid app.bsky.feed.post record: {problem}"})
        key = (did, collection, rkey)
        with self.lock:
            if key in self._b_records:
                # What the live PDS does today on a repeated rkey.
                return FakeResponse(500, {"error": "InternalServerError",
                                          "message": "Internal Server Error"})
            uri = f"at://{did}/{collection}/{rkey}"
            cid = "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:40]
            self._b_records[key] = {"uri": uri, "cid": cid, "value": record,
                                    "indexedAt": _iso(time.time())}
            self.record_create(req, uri)
        return FakeResponse(200, {"uri": uri, "cid": cid})

    def _b_get_record(self, req: FakeRequest) -> FakeResponse:
        """com.atproto.repo.getRecord: 400 RecordNotFound for a key that holds nothing
        (https://docs.bsky.app/docs/api/com-atproto-repo-get-record)."""
        key = (req.query.get("repo", ""), req.query.get("collection", ""),
               req.query.get("rkey", ""))
        with self.lock:
            found = self._b_records.get(key)
        if found is None:
            return FakeResponse(400, {"error": "RecordNotFound",
                                      "message": f"Could not locate record: {key[2]}"})
        return FakeResponse(200, {k: found[k] for k in ("uri", "cid", "value")})

    def _b_upload(self, req: FakeRequest) -> FakeResponse:
        """com.atproto.repo.uploadBlob: the blob ref with mimeType and size; limits are checked
        when a record uses it (https://docs.bsky.app/docs/api/com-atproto-repo-upload-blob)."""
        self._b_did(req)
        link = "bafkrei" + hashlib.sha256(req.raw).hexdigest()[:40]
        return FakeResponse(200, {"blob": {"$type": "blob", "ref": {"$link": link},
                                           "mimeType": req.headers.get("content-type", ""),
                                           "size": len(req.raw)}})

    def _b_profile(self, req: FakeRequest) -> FakeResponse:
        did = self._b_did(req)
        with self.lock:
            handle = self._b_handles.get(did, "")
        # profileViewDetailed (lexicons/app/bsky/actor/defs.json): followersCount.
        return FakeResponse(200, {"did": did, "handle": handle, "displayName": "Poise Demo",
                                  "followersCount": self.followers_count,
                                  "followsCount": 10})

    def _b_feed(self, req: FakeRequest) -> FakeResponse:
        actor = req.query.get("actor", "")
        with self.lock:
            records = [r for (did, _, _), r in self._b_records.items()
                       if actor in (did, self._b_handles.get(did))]
        feed = [{"post": {"uri": r["uri"], "cid": r["cid"], "record": r["value"]}}
                for r in reversed(records)]
        return FakeResponse(200, {"feed": feed[:int(req.query.get("limit", "50"))]})

    def _b_resolve(self, req: FakeRequest) -> FakeResponse:
        handle = req.query.get("handle", "")
        with self.lock:
            known = _did(handle) in self._b_handles or handle.endswith(".test")
        if not known:
            return FakeResponse(400, {"error": "InvalidRequest",
                                      "message": "Unable to resolve handle"})
        return FakeResponse(200, {"did": _did(handle)})

    # --- X --------------------------------------------------------------------------------

    def _x_create(self, req: FakeRequest) -> FakeResponse:
        self._x_auth(req)
        if not self.x_credits:
            # Pay-per-use: no credits left answers 402 for the developer account.
            # https://docs.x.com/x-api/fundamentals/response-codes-and-errors
            return FakeResponse(402, {
                "title": "CreditsDepleted", "type": "https://api.twitter.com/2/problems/credits",
                "detail": "Your enrolled account does not have any credits to fulfill this "
                          "request."})
        body = req.body if isinstance(req.body, dict) else {}
        text = str(body.get("text", ""))
        # 280 weighted characters (twitter-text v3, URLs 23, emoji and CJK 2).
        # https://docs.x.com/resources/fundamentals/counting-characters
        if count("x", text).over:
            return FakeResponse(400, {"errors": [{"message": "Tweet text is too long"}],
                                      "title": "Invalid Request", "detail": "text too long"})
        media = body.get("media") if isinstance(body.get("media"), dict) else {}
        media_ids = [str(m) for m in (media or {}).get("media_ids") or []]
        with self.lock:
            # Media must have been uploaded first (POST /2/media/upload), at most 4 images.
            # https://docs.x.com/x-api/posts/create-post
            if len(media_ids) > 4 or any(m not in self._x_media for m in media_ids):
                return FakeResponse(400, {"errors": [{"message": "Your media IDs are "
                                                                 "invalid."}],
                                          "title": "Invalid Request",
                                          "detail": "One or more parameters to your request "
                                                    "was invalid.",
                                          "type": "https://api.twitter.com/2/problems/"
                                                  "invalid-request"})
            # X refuses a post whose text repeats one of the account's recent posts (403,
            # "duplicate content"). https://docs.x.com/x-api/fundamentals/response-codes-and-errors
            if any(t["text"] == text for t in self._x_tweets):
                return platform_error("x", "duplicate")
            tweet_id = str(1800000000000000000 + int(self._next_id()))
            self._x_tweets.append({"id": tweet_id, "text": text, "at": time.time(),
                                   "media_ids": media_ids})
            self.record_create(req, tweet_id)
        return FakeResponse(201, {"data": {"id": tweet_id, "text": text,
                                           "edit_history_tweet_ids": [tweet_id]}})

    def _x_me(self, req: FakeRequest) -> FakeResponse:
        self._x_auth(req)
        return FakeResponse(200, {"data": {"id": X_USER_ID, "name": "Poise Demo",
                                           "username": "poise"}})

    def _x_list(self, req: FakeRequest) -> FakeResponse:
        """The user timeline, newest first, as X returns it: links t.co-wrapped, & < >
        entity-escaped, a media post's text ending in the t.co link of its media, at most
        ``max_results`` (5-100) per page with ``meta.next_token``.
        https://docs.x.com/x-api/posts/get-posts and .../fundamentals/pagination"""
        self._x_auth(req)
        start = req.query.get("start_time", "")
        limit = int(req.query.get("max_results", "10"))
        if not 5 <= limit <= 100:
            return FakeResponse(400, {"errors": [{"message": "The `max_results` query "
                                                             "parameter value is not between "
                                                             "5 and 100"}],
                                      "title": "Invalid Request",
                                      "type": "https://api.twitter.com/2/problems/"
                                              "invalid-request"})
        offset = int(req.query.get("pagination_token", "0") or 0)
        with self.lock:
            tweets = [t for t in reversed(self._x_tweets) if not start or _iso(t["at"]) >= start]
        page = tweets[offset:offset + limit]
        data = [{"id": t["id"], "created_at": _iso(t["at"]),
                 "text": _as_x_echoes(t["text"]) + (
                     " https://t.co/" + hashlib.sha256(t["id"].encode()).hexdigest()[:10]
                     if t.get("media_ids") else "")}
                for t in page]
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
        if offset + limit < len(tweets):
            meta["next_token"] = str(offset + limit)
        return FakeResponse(200, {"data": data, "meta": meta} if data else {"meta": meta})

    def x_incoming_dm(self, sender_id: str, text: str) -> str:
        """A follower sends the X account a DM (read back by GET /2/dm_events)."""
        with self.lock:
            event_id = str(1900000000000000000 + int(self._next_id()))
            self._x_dms.append({"id": event_id, "event_type": "MessageCreate", "text": text,
                                "sender_id": sender_id, "created_at": _iso(time.time()),
                                "dm_conversation_id": f"{X_USER_ID}-{sender_id}"})
        return event_id

    def _x_dm_events(self, req: FakeRequest) -> FakeResponse:
        """Newest first, ``max_results`` 1-100 (default 100) per page, ``meta.next_token``
        for the next (``pagination_token``); no since_id on this endpoint.
        https://docs.x.com/x-api/direct-messages/lookup/introduction"""
        self._x_auth(req)
        limit = int(req.query.get("max_results", "100"))
        if not 1 <= limit <= 100:
            return FakeResponse(400, {"title": "Invalid Request", "errors": [
                {"message": "The `max_results` query parameter value is not between 1 and "
                            "100"}]})
        offset = int(req.query.get("pagination_token", "0") or 0)
        with self.lock:
            events = list(reversed(self._x_dms))
            self.x_dm_events_read += len(events[offset:offset + limit])
        data = events[offset:offset + limit]
        meta: dict[str, Any] = {"result_count": len(data)}
        if offset + limit < len(events):
            meta["next_token"] = str(offset + limit)
        return FakeResponse(200, {"data": data, "meta": meta} if data else {"meta": meta})

    def _x_dm_send(self, req: FakeRequest) -> FakeResponse:
        self._x_auth(req)
        body = req.body if isinstance(req.body, dict) else {}
        recipient = req.path.split("/")[-2]
        with self.lock:
            event_id = str(1900000000000000000 + int(self._next_id()))
            self._x_dms.append({"id": event_id, "event_type": "MessageCreate",
                                "text": str(body.get("text", "")), "sender_id": X_USER_ID,
                                "created_at": _iso(time.time()),
                                "dm_conversation_id": f"{X_USER_ID}-{recipient}"})
        return FakeResponse(201, {"data": {"dm_conversation_id": f"{X_USER_ID}-{recipient}",
                                           "dm_event_id": event_id}})

    def _x_upload(self, req: FakeRequest) -> FakeResponse:
        """One-shot upload of a still image (multipart ``media``); an OAuth 2.0 token needs
        the media.write scope. https://docs.x.com/x-api/media/upload-media"""
        self._x_auth(req)
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if self.x_scope_missing(bearer, "media.write"):
            return FakeResponse(403, {"title": "Forbidden", "type": "about:blank",
                                      "status": 403, "detail": "This token lacks the "
                                                               "media.write scope."})
        body = req.body if isinstance(req.body, dict) else {}
        if not isinstance(body.get("media"), dict):
            return FakeResponse(400, {"errors": [{"message": "media is required"}]})
        media_id = str(1900000000000000000 + int(self._next_id()))
        with self.lock:
            self._x_media.add(media_id)
        return FakeResponse(200, {"data": {"id": media_id, "media_key": f"3_{media_id}",
                                           "size": body["media"]["size"]}})

    def _x_token(self, req: FakeRequest) -> FakeResponse:
        """refresh_token grant; a refresh token works once and a new one comes back.
        https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code"""
        body = req.body if isinstance(req.body, dict) else {}
        if body.get("grant_type") == "authorization_code":
            return self.x_authorization_code(body)
        with self.lock:
            good = (body.get("grant_type") == "refresh_token"
                    and body.get("client_id") == X_CLIENT_ID
                    and body.get("refresh_token") in self._x_refresh_tokens)
            if not good:
                return FakeResponse(400, {"error": "invalid_request",
                                          "error_description": "Value passed for the token "
                                                               "was invalid."})
            self._x_refresh_tokens.discard(str(body["refresh_token"]))
            access, refresh = f"x-access-{self._next_id()}", f"x-refresh-{self._next_id()}"
            self.tokens.add(access)
            self._x_refresh_tokens.add(refresh)
        return FakeResponse(200, {"token_type": "bearer", "expires_in": 7200,
                                  "access_token": access, "refresh_token": refresh,
                                  "scope": "tweet.write users.read tweet.read offline.access"})

    # --- LinkedIn -------------------------------------------------------------------------

    def _l_headers(self, req: FakeRequest) -> None:
        self._bearer(req)
        # Every /rest call needs LinkedIn-Version YYYYMM; a version not yet released or past
        # its sunset answers 426 NONEXISTENT_VERSION "Requested version ... is not active".
        # https://learn.microsoft.com/en-us/linkedin/marketing/versioning
        # https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations
        version = req.headers.get("linkedin-version", "")
        if not version:
            raise FakeError(FakeResponse(400, {"status": 400, "code": "VERSION_MISSING",
                                               "message": "A version must be present. Please "
                                                          "specify a version by adding the "
                                                          "LinkedIn-Version header."}))
        today = self.linkedin_today or date.today()
        sunset, _ = linkedin_sunset(version)
        released = re.fullmatch(r"(\d{4})(\d{2})", version)
        too_new = released is not None and (int(released.group(1)),
                                            int(released.group(2))) > (today.year, today.month)
        if sunset is None or today >= sunset or too_new:
            raise FakeError(FakeResponse(426, {"status": 426, "code": "NONEXISTENT_VERSION",
                                               "message": f"Requested version {version}01 is "
                                                          "not active"}))
        # Rest.li 2.0 protocol header, required on the versioned APIs.
        # https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/protocol-version
        if req.headers.get("x-restli-protocol-version") != "2.0.0":
            raise FakeError(FakeResponse(400, {"status": 400, "message":
                                               "X-Restli-Protocol-Version 2.0.0 required"}))

    def _l_create(self, req: FakeRequest) -> FakeResponse:
        self._l_headers(req)
        body = req.body if isinstance(req.body, dict) else {}
        author, commentary = str(body.get("author", "")), str(body.get("commentary", ""))
        # Posts API: author, commentary, visibility, distribution and lifecycleState are
        # required. https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
        missing = [f for f in ("author", "visibility", "distribution", "lifecycleState")
                   if not body.get(f)]
        if missing or not author.startswith("urn:li:") or body.get(
                "lifecycleState") != "PUBLISHED":
            return FakeResponse(422, {"status": 422, "message": "author, visibility, "
                                      "distribution and lifecycleState are required"})
        problem = self._l_media_problem(author, body.get("content"))
        if problem:
            return FakeResponse(422, {"status": 422, "code": "INVALID_CONTENT",
                                      "message": problem})
        with self.lock:
            for post in self._l_posts:
                if post["author"] == author and post["commentary"] == commentary:
                    return FakeResponse(422, {"status": 422, "code": "DUPLICATE_POST",
                                              "message": f"Content is a duplicate of "
                                                         f"{post['id']}"})
            urn = f"urn:li:share:{7000000000000000000 + int(self._next_id())}"
            self._l_posts.append({"id": urn, "author": author, "commentary": commentary,
                                  "content": body.get("content"),
                                  "createdAt": int(time.time() * 1000)})
            self.record_create(req, urn)
        return FakeResponse(201, None, {"x-restli-id": urn})

    def _l_media_problem(self, author: str, content: Any) -> str:
        """Images must be uploaded by the post's author through the Images API first; a
        multi-image post holds 2 to 20. https://learn.microsoft.com/en-us/linkedin/marketing/
        community-management/shares/images-api and .../shares/multiimage-post-api"""
        if content is None:
            return ""
        if not isinstance(content, dict):
            return "content must be an object"
        if "media" in content:
            ids = [str((content.get("media") or {}).get("id", ""))]
        elif "multiImage" in content:
            images = (content.get("multiImage") or {}).get("images") or []
            ids = [str(i.get("id", "")) for i in images if isinstance(i, dict)]
            if not 2 <= len(ids) <= 20:
                return "multiImage needs 2 to 20 images"
        else:
            return "unknown content type"
        with self.lock:
            for image in ids:
                known = self._l_images.get(image)
                if known is None or known["owner"] != author or not known["uploaded"]:
                    return f"{image} is not an uploaded image of {author}"
        return ""

    def _l_init_upload(self, req: FakeRequest) -> FakeResponse:
        self._l_headers(req)
        if req.query.get("action") != "initializeUpload":
            return FakeResponse(400, {"status": 400, "message": "action=initializeUpload"})
        body = req.body if isinstance(req.body, dict) else {}
        owner = str((body.get("initializeUploadRequest") or {}).get("owner", ""))
        if not owner.startswith(("urn:li:person:", "urn:li:organization:")):
            return FakeResponse(422, {"status": 422, "message": "owner is required"})
        number = self._next_id()
        image = f"urn:li:image:C4E10AQ{number}"
        with self.lock:
            self._l_images[image] = {"owner": owner, "uploaded": False, "slot": number}
        return FakeResponse(200, {"value": {
            "uploadUrlExpiresAt": int(time.time() * 1000) + 86_400_000,
            "uploadUrl": f"{self.base_url}/li-upload/{number}", "image": image}})

    def _l_put_image(self, req: FakeRequest) -> FakeResponse:
        self._bearer(req)
        slot = req.path.rsplit("/", 1)[1]
        with self.lock:
            for item in self._l_images.values():
                if item["slot"] == slot:
                    item["uploaded"] = bool(req.raw)
                    item["size"] = len(req.raw)
                    return FakeResponse(201, None)
        return FakeResponse(404, {"status": 404, "message": "no such upload"})

    def _l_list(self, req: FakeRequest) -> FakeResponse:
        """Find posts by author (q=author, newest first, ``count``); LinkedIn grants this read
        (r_member_social) to few apps. https://learn.microsoft.com/en-us/linkedin/marketing/
        community-management/shares/posts-api#find-posts-by-authors"""
        self._l_headers(req)
        if req.query.get("q") != "author":
            return FakeResponse(400, {"status": 400, "message": "q=author required"})
        with self.lock:
            posts = [p for p in reversed(self._l_posts) if p["author"] == req.query.get("author")]
        return FakeResponse(200, {"elements": posts[:int(req.query.get("count", "10"))]})

    def _l_userinfo(self, req: FakeRequest) -> FakeResponse:
        """OpenID Connect userinfo (unversioned): ``sub`` and ``name``.
        https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/
        sign-in-with-linkedin-v2#api-request-to-retreive-member-details"""
        self._bearer(req)
        return FakeResponse(200, {"sub": "fake-member", "name": "Poise Demo"})

    # --- Graph (Facebook, Instagram, Threads) ---------------------------------------------

    def _graph_parts(self, req: FakeRequest) -> tuple[str, dict[str, Any]]:
        self._graph_token(req)
        match = _GRAPH.match(req.path)
        assert match is not None
        body = req.body if isinstance(req.body, dict) else {}
        return match.group(2), body

    def _g_photo(self, req: FakeRequest) -> FakeResponse:
        """POST /{page-id}/photos (https://developers.facebook.com/docs/graph-api/reference/
        page/photos/#Creating): ``url`` or a multipart ``source``; at most 4 MB; published
        (default) makes a post and answers ``id`` + ``post_id``, unpublished only a photo
        to attach to a feed post later."""
        page, body = self._graph_parts(req)
        source = body.get("source")
        if not body.get("url") and not isinstance(source, dict):
            return FakeResponse(400, {"error": {
                "message": "(#324) Requires upload file", "type": "OAuthException",
                "code": 324, "fbtrace_id": "fake"}})
        if isinstance(source, dict) and int(source.get("size") or 0) > 4 * 1024 * 1024:
            return FakeResponse(400, {"error": {
                "message": "(#1) The image is too large (maximum 4 MB)",
                "type": "OAuthException", "code": 1, "fbtrace_id": "fake"}})
        published = str(body.get("published", "true")).lower() != "false"
        with self.lock:
            photo_id = str(500000000000000 + int(self._next_id()))
            self._g_objects[photo_id] = {"kind": "fb_photo", "page": page, "id": photo_id,
                                         "published": published,
                                         "alt": body.get("alt_text_custom", "")}
            if not published:
                return FakeResponse(200, {"id": photo_id})
            post_id = f"{page}_{self._next_id()}"
            self._g_objects[post_id] = {
                "kind": "fb_post", "page": page, "id": post_id,
                "message": str(body.get("message", "")), "link": None,
                "photos": [photo_id], "created_time": time.time(),
                "permalink_url": f"https://www.facebook.com/{post_id}"}
            self.record_create(req, post_id)
        return FakeResponse(200, {"id": photo_id, "post_id": post_id})

    def _g_feed_create(self, req: FakeRequest) -> FakeResponse:
        page, body = self._graph_parts(req)
        message = str(body.get("message", ""))
        attached = [json.loads(str(v)).get("media_fbid", "") for k, v in sorted(body.items())
                    if k.startswith("attached_media[")]
        if not message and not body.get("link") and not attached:
            return platform_error("facebook", "422")
        with self.lock:
            # attached_media: only this page's unpublished photos (reference/page/feed).
            for photo_id in attached:
                photo = self._g_objects.get(str(photo_id), {})
                if photo.get("kind") != "fb_photo" or photo.get("page") != page or \
                        photo.get("published"):
                    return FakeResponse(400, {"error": {
                        "message": f"(#100) Invalid media_fbid {photo_id}",
                        "type": "OAuthException", "code": 100, "fbtrace_id": "fake"}})
            if any(o.get("kind") == "fb_post" and o["page"] == page and o["message"] == message
                   for o in self._g_objects.values()):
                return platform_error("facebook", "duplicate")
            post_id = f"{page}_{self._next_id()}"
            self._g_objects[post_id] = {
                "kind": "fb_post", "page": page, "id": post_id, "message": message,
                "link": body.get("link"), "photos": attached, "created_time": time.time(),
                "permalink_url": f"https://www.facebook.com/{post_id}"}
            self.record_create(req, post_id)
        return FakeResponse(200, {"id": post_id})

    def _g_feed_list(self, req: FakeRequest) -> FakeResponse:
        page, _ = self._graph_parts(req)
        since = float(req.query.get("since", "0") or 0)
        with self.lock:
            posts = [o for o in self._g_objects.values()
                     if o.get("kind") == "fb_post" and o["page"] == page
                     and o["created_time"] >= since]
        data = [{"id": o["id"], "message": o["message"], "permalink_url": o["permalink_url"],
                 "created_time": _iso(o["created_time"])} for o in reversed(posts)]
        return FakeResponse(200, {"data": data[:int(req.query.get("limit", "25"))]})

    def _g_container(self, req: FakeRequest) -> FakeResponse:
        """POST /{ig-user-id}/media (image_url required for an image: .../instagram-platform/
        content-publishing) and POST /{threads-user-id}/threads (media_type TEXT or IMAGE with
        image_url: https://developers.facebook.com/documentation/threads/posts)."""
        user, body = self._graph_parts(req)
        if req.platform == "instagram":
            if not body.get("image_url"):
                return FakeResponse(400, {"error": {
                    "message": "Only photo or video can be accepted as media type.",
                    "type": "OAuthException", "code": 9004, "error_subcode": 2207052}})
            text = str(body.get("caption", ""))
        else:
            media_type = body.get("media_type")
            if media_type not in ("TEXT", "IMAGE") or (
                    media_type == "IMAGE" and not body.get("image_url")):
                return platform_error("threads", "422")
            text = str(body.get("text", ""))
            # https://developers.facebook.com/documentation/threads/posts "Limitations": 500
            # characters, emojis counted as their UTF-8 bytes.
            if threads_length(text) > 500:
                return FakeResponse(400, {"error": {
                    "message": "Param text must be at most 500 characters long.",
                    "type": "THApiException", "code": 100, "fbtrace_id": "fake"}})
            # .../create-posts/text-attachments: more than 5 unique links fail at container
            # creation with THREADS_API__LINK_LIMIT_EXCEEDED (since 2025-12-22).
            if len(threads_links(text)) > 5:
                return FakeResponse(400, {"error": {
                    "message": "THREADS_API__LINK_LIMIT_EXCEEDED: a post can contain at most "
                               "5 links", "type": "THApiException", "code": 100,
                    "fbtrace_id": "fake"}})
        container_id = str(17800000000000000 + int(self._next_id()))
        with self.lock:
            self._g_objects[container_id] = {
                "kind": "container", "platform": req.platform, "user": user, "text": text,
                "status": "IN_PROGRESS" if self.container_polls else "FINISHED",
                "polls": self.container_polls, "fields": dict(body)}
        return FakeResponse(200, {"id": container_id})

    def _g_send_message(self, req: FakeRequest) -> FakeResponse:
        """The Send API: ``POST /{page-id}/messages`` (or ``/me/messages`` with the page's
        token) for Messenger (https://developers.facebook.com/docs/messenger-platform/
        reference/send-api/) and for Instagram with Facebook Login (.../instagram-platform/
        instagram-api-with-facebook-login/messaging-api: "POST /<PAGE_ID>/messages"); with
        Instagram Login, ``/me/messages`` on graph.instagram.com. An Instagram user id is not
        a sender. Needs pages_messaging (Messenger) or instagram_manage_messages (Instagram)
        where the token's grant is known; recipient.id, message and messaging_type."""
        sender, body = self._graph_parts(req)
        body = req.body if isinstance(req.body, dict) else {}
        token = req.query.get("access_token", "")
        pages = {str(page["id"]) for page in self.meta_pages}
        owner = re.match(r"meta-page-(\d+)-", token)
        if sender == "me" and owner:
            sender = owner.group(1)
        if sender != "me" and (sender not in pages or (owner and owner.group(1) != sender)):
            return FakeResponse(400, {"error": {
                "message": f"Unsupported post request. Object with ID '{sender}' does not "
                           "exist, cannot be loaded due to missing permissions, or does not "
                           "support this operation", "type": "GraphMethodException",
                "code": 100, "error_subcode": 33, "fbtrace_id": "fake"}})
        with self.lock:
            granted = self.meta_scopes.get(token)
        if granted is not None and not granted & {"pages_messaging",
                                                  "instagram_manage_messages"}:
            return FakeResponse(403, {"error": {
                "message": "(#230) Requires pages_messaging permission to manage the object",
                "type": "OAuthException", "code": 230, "fbtrace_id": "fake"}})
        recipient: dict[str, Any] = body.get("recipient") or {}
        message: dict[str, Any] = body.get("message") or {}
        if not isinstance(recipient, dict) or not isinstance(message, dict):
            recipient, message = {}, {}
        if not recipient.get("id") or not message.get("text") or body.get(
                "messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return FakeResponse(400, {"error": {
                "message": "(#100) recipient, message and messaging_type are required",
                "type": "OAuthException", "code": 100, "fbtrace_id": "fake"}})
        message_id = f"m_{self._next_id()}"
        with self.lock:
            self._g_objects[message_id] = {"kind": "message", "from": sender,
                                           "to": recipient["id"], "text": message["text"]}
        return FakeResponse(200, {"recipient_id": recipient["id"], "message_id": message_id})

    def sent_messages(self) -> list[dict[str, Any]]:
        """Every message the Send API accepted (sender page, recipient, text)."""
        with self.lock:
            return [dict(o) for o in self._g_objects.values() if o.get("kind") == "message"]

    def _g_published_today(self, user: str) -> int:
        since = time.time() - 86400
        with self.lock:
            return sum(1 for o in self._g_objects.values()
                       if o.get("kind") == "published" and o.get("platform") == "instagram"
                       and o["user"] == user and o["timestamp"] > since)

    def _g_publish_limit(self, req: FakeRequest) -> FakeResponse:
        """GET /{ig-user-id}/content_publishing_limit, shaped as the reference's example
        (.../reference/ig-user/content_publishing_limit): data[0].quota_usage and
        config.quota_total / quota_duration."""
        user, _ = self._graph_parts(req)
        return FakeResponse(200, {"data": [{
            "quota_usage": self._g_published_today(user),
            "config": {"quota_total": self.instagram_publish_quota, "quota_duration": 86400}}]})

    def _g_publish(self, req: FakeRequest) -> FakeResponse:
        """media_publish / threads_publish with creation_id: only a FINISHED container of the
        same user (status_code / status: content-publishing guides, "Troubleshooting")."""
        user, body = self._graph_parts(req)
        creation_id = str(body.get("creation_id", ""))
        if req.platform == "instagram" and (
                self._g_published_today(user) >= self.instagram_publish_quota):
            # The quota is enforced at publishing (content-publishing guide, "Rate Limit";
            # error-codes page: code 9, subcode 2207042).
            return FakeResponse(400, {"error": {
                "message": "Application request limit reached", "type": "OAuthException",
                "code": 9, "error_subcode": 2207042, "is_transient": False,
                "error_user_title": "Maximum number of posts reached",
                "error_user_msg": "You reached the maximum number of posts that is allowed "
                                  "to be published in 24 hours.", "fbtrace_id": "fake"}})
        with self.lock:
            container = self._g_objects.get(creation_id)
            if container is None or container.get("kind") != "container" or (
                    container["user"] != user):
                return platform_error(req.platform, "422")
            if container["status"] != "FINISHED":
                return FakeResponse(400, {"error": {
                    "message": f"The media is not ready for publishing ({container['status']})",
                    "type": "OAuthException", "code": 9007, "error_subcode": 2207027}})
            post_id = str(18000000000000000 + int(self._next_id()))
            code = hashlib.sha256(post_id.encode()).hexdigest()[:11]
            permalink = (f"https://www.instagram.com/p/{code}/" if req.platform == "instagram"
                         else f"https://www.threads.net/@poise/post/{code}")
            self._g_objects[post_id] = {"kind": "published", "platform": req.platform,
                                        "user": user, "id": post_id, "text": container["text"],
                                        "permalink": permalink, "timestamp": time.time()}
            container["status"] = "PUBLISHED"
            self.record_create(req, post_id)
        return FakeResponse(200, {"id": post_id})

    def _g_published_list(self, req: FakeRequest) -> FakeResponse:
        user, _ = self._graph_parts(req)
        field = "caption" if req.platform == "instagram" else "text"
        with self.lock:
            posts = [o for o in self._g_objects.values() if o.get("kind") == "published"
                     and o["user"] == user and o["platform"] == req.platform]
        data = [{"id": o["id"], field: o["text"], "permalink": o["permalink"],
                 "timestamp": _iso(o["timestamp"])} for o in reversed(posts)]
        return FakeResponse(200, {"data": data[:int(req.query.get("limit", "25"))]})

    def _g_object(self, req: FakeRequest) -> FakeResponse:
        object_id, _ = self._graph_parts(req)
        fields = req.query.get("fields", "")
        with self.lock:
            found = self._g_objects.get(object_id)
            pages = {str(page["id"]) for page in self.meta_pages}
        if any(name in fields for name in ("reactions", "comments", "shares")):
            if found is None or found.get("kind") != "fb_post":
                return FakeResponse(400, {"error": {
                    "message": f"Unsupported get request. Object with ID '{object_id}' does "
                               "not exist, cannot be loaded due to missing permissions, or "
                               "does not support this operation", "type": "GraphMethodException",
                    "code": 100, "error_subcode": 33, "fbtrace_id": "fake"}})
            return self.g_post_fields(req, found)
        if found is None and "followers_count" in fields:
            return self.g_followers(req, object_id,
                                    "facebook" if object_id in pages else "instagram")
        with self.lock:
            if found is not None and found.get("kind") == "container":
                if found["status"] == "IN_PROGRESS":
                    found["polls"] -= 1
                    if found["polls"] <= 0:
                        found["status"] = "FINISHED"
                status = found["status"]
                return FakeResponse(200, {"id": object_id, "status_code": status,
                                          "status": status})
            if found is not None and found.get("kind") == "published":
                return FakeResponse(200, {"id": object_id, "permalink": found["permalink"]})
            if found is not None:
                return FakeResponse(200, {"id": object_id,
                                          "permalink_url": found.get("permalink_url")})
        return FakeResponse(200, {"id": object_id, "name": "Poise Demo", "username": "poise"})

    # --- webhook --------------------------------------------------------------------------

    def _w_receive(self, req: FakeRequest) -> FakeResponse:
        if self.webhook_secret and not verify_signature(self.webhook_secret, req.headers,
                                                        req.raw):
            return FakeResponse(401, {"error": "bad signature"})
        msg_id = req.headers.get("webhook-id", "")
        with self.lock:
            if msg_id in self._w_seen:
                return FakeResponse(200, {"id": self._w_seen[msg_id], "duplicate": True})
            receipt = f"wh_{self._next_id()}"
            self._w_seen[msg_id] = receipt
            if not str(req.headers.get("webhook-id", "")).startswith("ping_"):
                self.record_create(req, receipt)
        return FakeResponse(200, {"id": receipt})


    def _m_status(self, req: FakeRequest) -> FakeResponse:
        # https://docs.joinmastodon.org/methods/statuses/#get: 404 for an unknown status.
        status_id = req.path.rsplit("/", 1)[-1]
        with self.lock:
            found = next((s for s in self._m_statuses if s["id"] == status_id), None)
        if found is None:
            return FakeResponse(404, {"error": "Record not found"})
        counts = fake_counts(status_id, time.time() - _from_iso(found["created_at"]))
        return FakeResponse(200, {**found, "favourites_count": counts["likes"],
                                  "reblogs_count": counts["reposts"],
                                  "replies_count": counts["replies"]})

    def _b_get_posts(self, req: FakeRequest) -> FakeResponse:
        # https://docs.bsky.app/docs/api/app-bsky-feed-get-posts: unknown URIs are left
        # out of "posts", not an error.
        self._b_did(req)
        uris = req.query.get("uris", "")
        views = []
        with self.lock:
            for record in self._b_records.values():
                if record["uri"] == uris:
                    counts = fake_counts(uris, time.time() - _from_iso(record["indexedAt"]))
                    views.append({"uri": record["uri"], "cid": record["cid"],
                                  "record": record["value"], "indexedAt": record["indexedAt"],
                                  "likeCount": counts["likes"], "repostCount": counts["reposts"],
                                  "replyCount": counts["replies"], "quoteCount": 0,
                                  "bookmarkCount": counts["saves"]})
        return FakeResponse(200, {"posts": views})

    def _x_lookup(self, req: FakeRequest) -> FakeResponse:
        # https://docs.x.com/x-api/posts/lookup/introduction: found posts under "data",
        # missing ones under "errors".
        self._x_auth(req)
        wanted = [i for i in req.query.get("ids", "").split(",") if i]
        with self.lock:
            tweets = {t["id"]: t for t in self._x_tweets}
        data, errors = [], []
        for tweet_id in wanted:
            tweet = tweets.get(tweet_id)
            if tweet is None:
                errors.append({"value": tweet_id, "title": "Not Found Error"})
                continue
            counts = fake_counts(tweet_id, time.time() - tweet["at"])
            data.append({"id": tweet_id, "text": _as_x_echoes(tweet["text"]),
                         "public_metrics": {
                             "retweet_count": counts["reposts"], "reply_count": counts["replies"],
                             "like_count": counts["likes"], "quote_count": 0,
                             "bookmark_count": counts["saves"],
                             "impression_count": counts["impressions"]}})
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return FakeResponse(200, body)

    def _l_social_actions(self, req: FakeRequest) -> FakeResponse:
        # socialActions summary (learn.microsoft.com .../network-update-social-actions).
        self._l_headers(req)
        urn = unquote(req.path.rsplit("/", 1)[-1])
        with self.lock:
            found = next((p for p in self._l_posts if p.get("id") == urn), None)
        if found is None:
            return FakeResponse(404, {"message": "Not Found", "status": 404})
        counts = fake_counts(urn, time.time() - found["createdAt"] / 1000)
        return FakeResponse(200, {"likesSummary": {"totalLikes": counts["likes"]},
                                  "commentsSummary": {"aggregatedTotalComments":
                                                      counts["replies"]}})


_M_ENTITY = re.compile(r"(?P<url>https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'}])"
                       r"|(?<![\w/])#(?P<tag>\w+)"
                       r"|(?<![\w/@])@(?P<user>\w+)(?:@(?P<domain>[\w.-]+\w))?")
_M_PREFIX = re.compile(r"^(https?://(www\.)?)")


def _m_html(text: str, base: str) -> str:
    """A status's ``content`` the way Mastodon renders it (app/lib/text_formatter.rb):
    links shortened with ``invisible``/``ellipsis`` spans, mentions as h-cards showing only
    the username, hashtags linked, paragraphs and ``<br />`` from ``simple_format``."""
    def entity(match: re.Match[str]) -> str:
        if match.group("url"):
            url = match.group("url")
            prefix = _M_PREFIX.match(url)
            head = prefix.group(1) if prefix else ""
            rest = url[len(head):]
            cut = " ellipsis" if len(rest) > 30 else ""
            return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener '
                    f'noreferrer"><span class="invisible">{html.escape(head)}</span>'
                    f'<span class="{cut.strip()}">{html.escape(rest[:30])}</span>'
                    f'<span class="invisible">{html.escape(rest[30:])}</span></a>')
        if match.group("tag"):
            tag = html.escape(match.group("tag"))
            return (f'<a href="{base}/tags/{tag}" class="mention hashtag" rel="tag">'
                    f'#<span>{tag}</span></a>')
        user = html.escape(match.group("user"))
        domain = match.group("domain") or "fake.local"
        return (f'<span class="h-card" translate="no"><a href="https://{html.escape(domain)}'
                f'/@{user}" class="u-url mention">@<span>{user}</span></a></span>')

    def rendered(part: str) -> str:
        out, position = [], 0
        for match in _M_ENTITY.finditer(part):
            out.append(html.escape(part[position:match.start()]))
            out.append(entity(match))
            position = match.end()
        out.append(html.escape(part[position:]))
        return "".join(out).replace("\n", "<br />")

    return "".join(f"<p>{rendered(p)}</p>" for p in re.split(r"\n{2,}", text))


def _b_post_problem(record: dict[str, Any]) -> str:
    """What the PDS's lexicon validation refuses in an app.bsky.feed.post record, or "".

    lexicons/app/bsky/feed/post.json: text maxGraphemes 300 / maxLength 3000 bytes, langs
    maxLength 3; richtext/facet.json: byteSlice inside the text, #tag maxGraphemes 64;
    embed/images.json: image maxSize 1000000, at most 4; embed/defs.json aspectRatio
    width/height >= 1; embed/external.json: uri, title, description required.
    """
    text = str(record.get("text", ""))
    if graphemes(text) > 300 or len(text.encode()) > 3000:
        return "Record/text must not be longer than 300 graphemes"
    if not isinstance(record.get("langs", []), list) or len(record.get("langs", [])) > 3:
        return "Record/langs must not have more than 3 elements"
    size = len(text.encode())
    for facet in record.get("facets") or []:
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
            return "Record/facets/index must lie inside the text"
        for feature in facet.get("features") or []:
            if feature.get("$type") == "app.bsky.richtext.facet#tag" and (
                    not feature.get("tag") or graphemes(str(feature["tag"])) > 64):
                return "Record/facets/features/tag must be 1 to 64 graphemes"
    embed = record.get("embed") or {}
    if embed.get("$type") == "app.bsky.embed.images":
        images = embed.get("images") or []
        if len(images) > 4:
            return "Record/embed/images must not have more than 4 elements"
        for image in images:
            blob = image.get("image") or {}
            if int(blob.get("size") or 0) > 1_000_000:
                return "Record/embed/images/image file too large (max 1000000 bytes)"
            ratio = image.get("aspectRatio")
            if ratio is not None and not (int(ratio.get("width") or 0) >= 1
                                          and int(ratio.get("height") or 0) >= 1):
                return "Record/embed/images/aspectRatio must have width and height >= 1"
    if embed.get("$type") == "app.bsky.embed.external":
        external = embed.get("external") or {}
        if not all(isinstance(external.get(k), str) for k in ("uri", "title", "description")):
            return "Record/embed/external must have the properties uri, title and description"
    return ""
    # --- metrics (issue 15) ---------------------------------------------------------------


def _as_x_echoes(text: str) -> str:
    """Text the way X's API returns it: links as t.co, & < > as entities."""
    for url in sorted(set(x_urls(text)), key=len, reverse=True):
        text = text.replace(url, "https://t.co/" + hashlib.sha256(url.encode()).hexdigest()[:10])
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def credentials_for(platform: str, handle: str = "poise") -> dict[str, str]:
    """Credentials the fake accepts for an account on ``platform``."""
    return {
        "x": {"consumer_key": X_CONSUMER_KEY, "consumer_secret": X_CONSUMER_SECRET,
              "access_token": TOKEN, "access_token_secret": X_TOKEN_SECRET},
        "mastodon": {"access_token": TOKEN},
        "bluesky": {"identifier": handle, "app_password": BLUESKY_PASSWORD},
        "linkedin": {"access_token": TOKEN},
        "facebook": {"page_access_token": TOKEN},
        "instagram": {"access_token": TOKEN},
        "threads": {"access_token": TOKEN},
        "webhook": {"secret": WEBHOOK_SECRET},
    }[platform]
