"""'Connect with ...': OAuth 2.0 authorization-code flows (PKCE where the platform wants it).

Mastodon registers an app on whichever instance the person names; X, LinkedIn and Meta use
the client credentials the operator configured. The flow's state lives in the signed session
cookie between the redirect out and the callback.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from planner.errors import Invalid
from planner.settings import get_settings

TIMEOUT = 15.0


@dataclass(frozen=True)
class Provider:
    platform: str
    authorize_url: str  # on the public service; {base} when the API base is overridden
    token_url: str
    scopes: str
    pkce: bool = False
    default_api_base: str = ""


PROVIDERS = {
    "mastodon": Provider("mastodon", "{base}/oauth/authorize", "{base}/oauth/token",
                         "read write"),
    "x": Provider("x", "https://x.com/i/oauth2/authorize", "https://api.x.com/2/oauth2/token",
                  "tweet.read tweet.write users.read offline.access dm.read dm.write",
                  pkce=True, default_api_base="https://api.x.com"),
    "linkedin": Provider("linkedin", "https://www.linkedin.com/oauth/v2/authorization",
                         "https://www.linkedin.com/oauth/v2/accessToken",
                         "openid profile w_member_social"),
}
# When a custom API base is given (self-hosted, proxy, local fake), every endpoint lives there.
OVERRIDE_PATHS = {"x": ("/i/oauth2/authorize", "/2/oauth2/token"),
                  "linkedin": ("/oauth/v2/authorization", "/oauth/v2/accessToken")}


def client_credentials(platform: str) -> tuple[str, str]:
    s = get_settings()
    return {"x": (s.x_client_id, s.x_client_secret),
            "linkedin": (s.linkedin_client_id, s.linkedin_client_secret)}.get(platform, ("", ""))


def _endpoints(provider: Provider, api_base: str) -> tuple[str, str]:
    if provider.platform == "mastodon":
        return (provider.authorize_url.format(base=api_base),
                provider.token_url.format(base=api_base))
    if api_base and api_base != provider.default_api_base:
        authorize, token = OVERRIDE_PATHS[provider.platform]
        return api_base + authorize, api_base + token
    return provider.authorize_url, provider.token_url


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    return verifier, challenge


def start(*, platform: str, api_base: str, redirect_uri: str) -> tuple[str, dict[str, str]]:
    """The URL to send the person to, and the state to keep until the callback."""
    provider = PROVIDERS.get(platform)
    if provider is None:
        raise Invalid.at("platform", f"{platform} connects with credentials, not OAuth.")
    api_base = api_base.strip().rstrip("/")
    if platform == "mastodon":
        if not api_base.startswith(("https://", "http://")):
            raise Invalid.at("api_base", "Name your Mastodon instance, e.g. "
                             "https://mastodon.social.")
        client_id, client_secret = _register_mastodon_app(api_base, redirect_uri)
    else:
        client_id, client_secret = client_credentials(platform)
        if not client_id:
            raise Invalid.at("platform", f"'Connect with {platform}' needs the operator to "
                             f"set the {platform} client id (see the README); paste an access "
                             "token instead.")
    authorize, _ = _endpoints(provider, api_base)
    state = secrets.token_urlsafe(24)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": provider.scopes, "state": state}
    flow = {"platform": platform, "api_base": api_base, "client_id": client_id,
            "client_secret": client_secret, "state": state, "redirect_uri": redirect_uri}
    if provider.pkce:
        verifier, challenge = _pkce()
        params.update(code_challenge=challenge, code_challenge_method="S256")
        flow["code_verifier"] = verifier
    return f"{authorize}?{urlencode(params)}", flow


def _register_mastodon_app(api_base: str, redirect_uri: str) -> tuple[str, str]:
    try:
        resp = requests.post(f"{api_base}/api/v1/apps", timeout=TIMEOUT, json={
            "client_name": "Poise", "redirect_uris": redirect_uri, "scopes": "read write",
            "website": get_settings().public_base_url})
    except requests.RequestException as exc:
        raise Invalid.at("api_base", f"{api_base} cannot be reached: {exc.__class__.__name__}."
                         ) from None
    if resp.status_code != 200:
        raise Invalid.at("api_base", f"{api_base} refused to register Poise "
                         f"(HTTP {resp.status_code}); is it a Mastodon instance?")
    body = resp.json()
    return str(body["client_id"]), str(body["client_secret"])


def finish(*, flow: dict[str, str], code: str, state: str) -> dict[str, str]:
    """Exchange the code for tokens; returns the credentials to store."""
    if not flow or not secrets.compare_digest(flow.get("state", ""), state or ""):
        raise Invalid.at("state", "This sign-in link has expired or was not started here; "
                         "start connecting the account again.")
    provider = PROVIDERS[flow["platform"]]
    _, token_url = _endpoints(provider, flow["api_base"])
    data: dict[str, Any] = {"grant_type": "authorization_code", "code": code,
                            "redirect_uri": flow["redirect_uri"],
                            "client_id": flow["client_id"]}
    auth = None
    if flow.get("code_verifier"):
        data["code_verifier"] = flow["code_verifier"]
    if flow.get("client_secret"):
        if provider.platform == "x":
            auth = (flow["client_id"], flow["client_secret"])
        else:
            data["client_secret"] = flow["client_secret"]
    try:
        resp = requests.post(token_url, data=data, auth=auth, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise Invalid.at("code", f"The platform could not be reached to finish signing in "
                         f"({exc.__class__.__name__}); try again.") from None
    if resp.status_code != 200:
        raise Invalid.at("code", f"The platform refused the sign-in (HTTP {resp.status_code}); "
                         "start again.")
    body = resp.json()
    credentials = {"access_token": str(body["access_token"])}
    if body.get("refresh_token"):
        credentials["refresh_token"] = str(body["refresh_token"])
    if provider.platform == "x":
        credentials["client_id"] = flow["client_id"]
        if flow.get("client_secret"):
            credentials["client_secret"] = flow["client_secret"]
    if body.get("expires_in"):
        credentials["expires_in"] = str(body["expires_in"])
    return credentials
