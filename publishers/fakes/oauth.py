"""OAuth endpoints of the fake platforms: Mastodon app registration + authorization code, and
X OAuth 2.0 with PKCE. The fake user always consents: authorize redirects straight back."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from publishers.fakes.core import FakeRequest, FakeResponse

TOKEN = "fake-token"  # noqa: S105 (the fake's own test credential)


class OAuthRoutes:
    """Mixed into FakePlatform; keeps pending codes and registered apps."""

    lock: Any
    tokens: set[str]
    _x_refresh_tokens: set[str]

    def oauth_routes(self) -> list[tuple[str, re.Pattern[str], str, str, Any]]:
        return [
            ("POST", re.compile(r"^/api/v1/apps$"), "mastodon", "auth", self._m_register_app),
            ("GET", re.compile(r"^/oauth/authorize$"), "mastodon", "auth", self._authorize),
            ("POST", re.compile(r"^/oauth/token$"), "mastodon", "auth", self._m_token),
            ("GET", re.compile(r"^/i/oauth2/authorize$"), "x", "auth", self._authorize),
        ]

    def reset_oauth(self) -> None:
        self._apps: dict[str, dict[str, str]] = {}
        self._codes: dict[str, dict[str, str]] = {}

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

    def _authorize(self, req: FakeRequest) -> FakeResponse:
        q = req.query
        if q.get("response_type") != "code" or not q.get("redirect_uri"):
            return FakeResponse(400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(16)
        with self.lock:
            self._codes[code] = {"client_id": q.get("client_id", ""),
                                 "redirect_uri": q["redirect_uri"],
                                 "challenge": q.get("code_challenge", "")}
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        return FakeResponse(302, {}, headers={"Location": target})

    def _take_code(self, body: dict[str, Any]) -> dict[str, str] | None:
        with self.lock:
            grant = self._codes.pop(str(body.get("code", "")), None)
        if grant is None or grant["redirect_uri"] != body.get("redirect_uri"):
            return None
        return grant

    def _m_token(self, req: FakeRequest) -> FakeResponse:
        body = req.body if isinstance(req.body, dict) else {}
        grant = self._take_code(body) if body.get("grant_type") == "authorization_code" else None
        app = self._apps.get(str(body.get("client_id", "")))
        if grant is None or app is None or app["secret"] != body.get("client_secret"):
            return FakeResponse(400, {"error": "invalid_grant"})
        return FakeResponse(200, {"access_token": TOKEN, "token_type": "Bearer",
                                  "scope": "read write", "created_at": 0})

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
        with self.lock:
            refresh = f"x-refresh-{secrets.token_hex(4)}"
            self._x_refresh_tokens.add(refresh)
        return FakeResponse(200, {"token_type": "bearer", "expires_in": 7200,
                                  "access_token": TOKEN, "refresh_token": refresh,
                                  "scope": "tweet.write users.read tweet.read offline.access"})
