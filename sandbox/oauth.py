"""OAuth endpoints of the fake platforms. The fake user always consents: authorize redirects
straight back with a code.

- Mastodon: app registration + authorization code.
- X: OAuth 2.0 with PKCE; tokens carry the scopes granted, and media upload needs media.write.
- LinkedIn: authorization code; /v2/userinfo (in platform.py) names the member.
- Facebook Login (Facebook Pages, Instagram): code -> short-lived user token ->
  ``fb_exchange_token`` long-lived user token -> ``/me/accounts`` pages with page tokens and
  their linked Instagram professional accounts.
- Threads: code -> short-lived token (with user_id) -> ``th_exchange_token`` long-lived token,
  refreshed with ``th_refresh_token``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from sandbox.core import FakeRequest, FakeResponse

TOKEN = "fake-token"  # noqa: S105 (the fake's own test credential)
META_PAGE_ID = "200000000000001"
INSTAGRAM_USER_ID = "17841400000000001"
THREADS_USER_ID = "27000000000000001"
LONG_LIVED_SECONDS = 60 * 24 * 3600
# The pages the fake Facebook user manages; the first has an Instagram account linked.
META_PAGES: tuple[dict[str, Any], ...] = (
    {"id": META_PAGE_ID, "name": "Poise Demo", "username": "poisedemo",
     "instagram_business_account": {"id": INSTAGRAM_USER_ID, "username": "poise"}},
    {"id": "200000000000002", "name": "Poise Outlet"},
)


def _graph_oauth_error(message: str, code: int = 100) -> FakeResponse:
    return FakeResponse(400, {"error": {"message": message, "type": "OAuthException",
                                        "code": code, "fbtrace_id": "fake"}})


class OAuthRoutes:
    """Mixed into FakePlatform; keeps pending codes, registered apps and issued tokens."""

    lock: Any
    tokens: set[str]
    _x_refresh_tokens: set[str]

    def oauth_routes(self) -> list[tuple[str, re.Pattern[str], str, str, Any]]:
        return [
            ("POST", re.compile(r"^/api/v1/apps$"), "mastodon", "auth", self._m_register_app),
            # Mastodon's authorize path is also Threads' (threads.net/oauth/authorize).
            ("GET", re.compile(r"^/oauth/authorize$"), "mastodon", "auth", self._authorize),
            ("POST", re.compile(r"^/oauth/token$"), "mastodon", "auth", self._m_token),
            ("GET", re.compile(r"^/i/oauth2/authorize$"), "x", "auth", self._authorize),
            ("GET", re.compile(r"^/oauth/v2/authorization$"), "linkedin", "auth",
             self._authorize),
            ("POST", re.compile(r"^/oauth/v2/accessToken$"), "linkedin", "auth", self._l_token),
            ("GET", re.compile(r"^/v\d+\.\d+/dialog/oauth$"), "facebook", "auth",
             self._authorize),
            ("GET", re.compile(r"^/v\d+\.\d+/oauth/access_token$"), "facebook", "auth",
             self._g_token),
            ("GET", re.compile(r"^/v\d+\.\d+/me/accounts$"), "facebook", "read", self._g_pages),
            ("POST", re.compile(r"^/oauth/access_token$"), "threads", "auth", self._t_token),
            ("GET", re.compile(r"^/access_token$"), "threads", "auth", self._t_exchange),
            ("GET", re.compile(r"^/refresh_access_token$"), "threads", "auth", self._t_refresh),
        ]

    def reset_oauth(self) -> None:
        self._apps: dict[str, dict[str, str]] = {}
        self._codes: dict[str, dict[str, str]] = {}
        self._x_scopes: dict[str, set[str]] = {}  # OAuth 2.0 access token -> granted scopes
        self._meta_user_tokens: dict[str, str] = {}  # user token -> "short" | "long"
        # Meta token -> the permissions granted at sign-in (passed on to page tokens).
        self.meta_scopes: dict[str, set[str]] = {}
        self._threads_short: set[str] = set()
        self.meta_pages: list[dict[str, Any]] = [dict(page) for page in META_PAGES]

    def _mint(self, prefix: str) -> str:
        token = f"{prefix}-{secrets.token_hex(6)}"
        with self.lock:
            self.tokens.add(token)
        return token

    # --- shared authorization-code machinery ------------------------------------------------

    def _authorize(self, req: FakeRequest) -> FakeResponse:
        q = req.query
        if q.get("response_type") != "code" or not q.get("redirect_uri"):
            return FakeResponse(400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(16)
        with self.lock:
            self._codes[code] = {"client_id": q.get("client_id", ""),
                                 "redirect_uri": q["redirect_uri"],
                                 "challenge": q.get("code_challenge", ""),
                                 "scope": q.get("scope", "")}
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        return FakeResponse(302, {}, headers={"Location": target})

    def _take_code(self, body: dict[str, Any]) -> dict[str, str] | None:
        with self.lock:
            grant = self._codes.pop(str(body.get("code", "")), None)
        if grant is None or grant["redirect_uri"] != body.get("redirect_uri"):
            return None
        return grant

    def _take_client_code(self, body: dict[str, Any]) -> dict[str, str] | None:
        """A code grant for a confidential client: same client id, some client secret."""
        grant = self._take_code(body)
        if grant is None or grant["client_id"] != body.get("client_id") or not body.get(
                "client_secret"):
            return None
        return grant

    # --- Mastodon -------------------------------------------------------------------------

    def _m_register_app(self, req: FakeRequest) -> FakeResponse:
        body = req.body if isinstance(req.body, dict) else {}
        if not body.get("client_name") or not body.get("redirect_uris"):
            return FakeResponse(422, {"error": "Validation failed: missing client_name"})
        client_id, secret = secrets.token_urlsafe(12), secrets.token_urlsafe(24)
        with self.lock:
            self._apps[client_id] = {"secret": secret, "redirect": str(body["redirect_uris"])}
        return FakeResponse(200, {"id": "1", "name": body["client_name"],
                                  "client_id": client_id, "client_secret": secret,
                                  "redirect_uri": body["redirect_uris"]})

    def _m_token(self, req: FakeRequest) -> FakeResponse:
        body = req.body if isinstance(req.body, dict) else {}
        grant = self._take_code(body) if body.get("grant_type") == "authorization_code" else None
        app = self._apps.get(str(body.get("client_id", "")))
        if grant is None or app is None or app["secret"] != body.get("client_secret"):
            return FakeResponse(400, {"error": "invalid_grant"})
        return FakeResponse(200, {"access_token": TOKEN, "token_type": "Bearer",
                                  "scope": "read write", "created_at": 0})

    # --- X --------------------------------------------------------------------------------

    def x_authorization_code(self, body: dict[str, Any]) -> FakeResponse:
        """The authorization_code grant of POST /2/oauth2/token (PKCE S256 checked)."""
        grant = self._take_code(body)
        verifier = str(body.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                             ).rstrip(b"=").decode()
        if grant is None or not grant["challenge"] or grant["challenge"] != challenge:
            return FakeResponse(400, {"error": "invalid_request",
                                      "error_description": "Value passed for the "
                                                           "authorization code was invalid."})
        access = self._mint("x-oauth")
        with self.lock:
            refresh = f"x-refresh-{secrets.token_hex(4)}"
            self._x_refresh_tokens.add(refresh)
            self._x_scopes[access] = set(grant["scope"].split())
        return FakeResponse(200, {"token_type": "bearer", "expires_in": 7200,
                                  "access_token": access, "refresh_token": refresh,
                                  "scope": grant["scope"]})

    def x_scope_missing(self, token: str, scope: str) -> bool:
        """True when ``token`` came from the code flow without ``scope`` being granted."""
        with self.lock:
            granted = self._x_scopes.get(token)
        return granted is not None and scope not in granted

    # --- LinkedIn -------------------------------------------------------------------------

    def _l_token(self, req: FakeRequest) -> FakeResponse:
        body = req.body if isinstance(req.body, dict) else {}
        grant = self._take_client_code(body) if body.get(
            "grant_type") == "authorization_code" else None
        if grant is None:
            return FakeResponse(400, {"error": "invalid_request", "error_description":
                                      "Unable to retrieve access token: appid/redirect uri/"
                                      "code verifier does not match authorization code."})
        return FakeResponse(200, {"access_token": self._mint("li"),
                                  "expires_in": LONG_LIVED_SECONDS, "scope": grant["scope"]})

    # --- Facebook Login (Pages, Instagram) ------------------------------------------------

    def _g_token(self, req: FakeRequest) -> FakeResponse:
        q = req.query
        if q.get("grant_type") == "fb_exchange_token":
            with self.lock:
                kind = self._meta_user_tokens.get(q.get("fb_exchange_token", ""))
            if kind is None or not q.get("client_id") or not q.get("client_secret"):
                return _graph_oauth_error("Error validating access token.", 190)
            long_lived = self._mint("meta-user-long")
            with self.lock:
                self._meta_user_tokens[long_lived] = "long"
                self.meta_scopes[long_lived] = set(self.meta_scopes.get(
                    q.get("fb_exchange_token", ""), set()))
            return FakeResponse(200, {"access_token": long_lived, "token_type": "bearer",
                                      "expires_in": LONG_LIVED_SECONDS})
        grant = self._take_client_code(dict(q))
        if grant is None:
            return _graph_oauth_error("Invalid verification code format.")
        short = self._mint("meta-user-short")
        with self.lock:
            self._meta_user_tokens[short] = "short"
            self.meta_scopes[short] = {s for s in grant["scope"].split(",") if s}
        return FakeResponse(200, {"access_token": short, "token_type": "bearer",
                                  "expires_in": 5400})

    def _g_pages(self, req: FakeRequest) -> FakeResponse:
        with self.lock:
            known = req.query.get("access_token", "") in self._meta_user_tokens
            pages = [dict(page) for page in self.meta_pages]
        if not known:
            return _graph_oauth_error("Invalid OAuth access token - Cannot parse access token",
                                      190)
        for page in pages:
            page["access_token"] = self._mint(f"meta-page-{page['id']}")
            with self.lock:
                self.meta_scopes[page["access_token"]] = set(self.meta_scopes.get(
                    req.query.get("access_token", ""), set()))
        return FakeResponse(200, {"data": pages, "paging": {"cursors": {
            "before": "MAZDZD", "after": "MAZDZD"}}})

    # --- Threads --------------------------------------------------------------------------

    def _t_token(self, req: FakeRequest) -> FakeResponse:
        body = req.body if isinstance(req.body, dict) else {}
        grant = self._take_client_code(body) if body.get(
            "grant_type") == "authorization_code" else None
        if grant is None:
            return _graph_oauth_error("Invalid verification code format.")
        short = secrets.token_hex(8)
        with self.lock:
            self._threads_short.add(short)
        return FakeResponse(200, {"access_token": short, "user_id": int(THREADS_USER_ID)})

    def _t_exchange(self, req: FakeRequest) -> FakeResponse:
        q = req.query
        with self.lock:
            known = q.get("access_token", "") in self._threads_short
        if q.get("grant_type") != "th_exchange_token" or not known or not q.get(
                "client_secret"):
            return _graph_oauth_error("Error validating access token.", 190)
        return FakeResponse(200, {"access_token": self._mint("threads-long"),
                                  "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS})

    def _t_refresh(self, req: FakeRequest) -> FakeResponse:
        """GET /refresh_access_token: graph.threads.net with th_refresh_token, and
        graph.instagram.com with ig_refresh_token (Instagram Login: .../business-login
        "Refresh a long-lived token"); both answer a new 60-day token."""
        q = req.query
        with self.lock:
            known = q.get("access_token", "") in self.tokens
        grant = q.get("grant_type")
        if grant not in ("th_refresh_token", "ig_refresh_token") or not known:
            return _graph_oauth_error("Error validating access token.", 190)
        prefix = "threads-long" if grant == "th_refresh_token" else "ig-long"
        return FakeResponse(200, {"access_token": self._mint(prefix),
                                  "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS})
