"""'Connect with ...': OAuth 2.0 authorization-code flows (PKCE where the platform wants it).

Mastodon registers an app on whichever instance the person names; X, LinkedIn and Meta
(Facebook Pages, Instagram, Threads) use the client credentials the operator configured. The
flow's state lives in the signed session cookie between the redirect out and the callback.

Meta's flows go further than the code exchange: Facebook Login trades the short-lived user
token for a long-lived one and reads the pages it manages (a page's token does not expire and
publishes for the page and its linked Instagram account); Threads trades its short-lived
token for a 60-day one, which the token job extends before it expires.
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
from publishers import http, netguard
from publishers.facebook import DEFAULT_VERSION as GRAPH_VERSION

TIMEOUT = 15.0
FACEBOOK_GRAPH = "https://graph.facebook.com"


@dataclass(frozen=True)
class Provider:
    platform: str
    label: str
    authorize_url: str  # on the public service; {base} when the API base is overridden
    token_url: str
    scopes: str
    pkce: bool = False
    default_api_base: str = ""
    # When a custom API base is given (self-hosted, proxy, local fake), every endpoint lives
    # there under these paths.
    override_paths: tuple[str, str] = ("", "")
    needs_secret: bool = False
    settings_hint: str = ""


_FACEBOOK_LOGIN: dict[str, Any] = {
    "authorize_url": f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth",
    "token_url": f"{FACEBOOK_GRAPH}/{GRAPH_VERSION}/oauth/access_token",
    "default_api_base": FACEBOOK_GRAPH,
    "override_paths": (f"/{GRAPH_VERSION}/dialog/oauth", f"/{GRAPH_VERSION}/oauth/access_token"),
    "needs_secret": True,
    "settings_hint": "the Meta app id and secret (POISE_META_APP_ID, POISE_META_APP_SECRET)",
}

PROVIDERS = {
    "mastodon": Provider("mastodon", "Mastodon", "{base}/oauth/authorize", "{base}/oauth/token",
                         "read write"),
    "x": Provider("x", "X", "https://x.com/i/oauth2/authorize",
                  "https://api.x.com/2/oauth2/token",
                  # media.write: OAuth 2.0 user tokens may upload images only with it.
                  "tweet.read tweet.write users.read offline.access media.write dm.read "
                  "dm.write", pkce=True, default_api_base="https://api.x.com",
                  override_paths=("/i/oauth2/authorize", "/2/oauth2/token"),
                  settings_hint="the X client id (POISE_X_CLIENT_ID)"),
    "linkedin": Provider("linkedin", "LinkedIn", "https://www.linkedin.com/oauth/v2/authorization",
                         "https://www.linkedin.com/oauth/v2/accessToken",
                         "openid profile w_member_social",
                         override_paths=("/oauth/v2/authorization", "/oauth/v2/accessToken"),
                         needs_secret=True,
                         settings_hint="the LinkedIn client id and secret "
                                       "(POISE_LINKEDIN_CLIENT_ID, POISE_LINKEDIN_CLIENT_SECRET)"),
    # Inbox replies need pages_messaging (Messenger Send API) and instagram_manage_messages
    # (Instagram Messaging, with pages_manage_metadata for its webhooks).
    "facebook": Provider("facebook", "Facebook", scopes="pages_show_list,"
                         "pages_read_engagement,pages_manage_posts,pages_messaging",
                         **_FACEBOOK_LOGIN),
    "instagram": Provider("instagram", "Instagram", scopes="pages_show_list,"
                          "pages_read_engagement,instagram_basic,instagram_content_publish,"
                          "instagram_manage_messages,pages_manage_metadata",
                          **_FACEBOOK_LOGIN),
    "threads": Provider("threads", "Threads", "https://threads.net/oauth/authorize",
                        "https://graph.threads.net/oauth/access_token",
                        "threads_basic,threads_content_publish",
                        default_api_base="https://graph.threads.net",
                        override_paths=("/oauth/authorize", "/oauth/access_token"),
                        needs_secret=True,
                        settings_hint="the Meta app id and secret (POISE_META_APP_ID, "
                                      "POISE_META_APP_SECRET, or POISE_THREADS_APP_ID and "
                                      "POISE_THREADS_APP_SECRET when Threads has its own)"),
}


@dataclass(frozen=True)
class Grant:
    """What a finished flow yields: credentials to store, and what the platform told us."""

    credentials: dict[str, str]
    external_id: str = ""  # a page id, Instagram or Threads user id (others: found later)
    handle: str = ""  # a page name or @username where the flow learns it
    expires_in: int | None = None  # seconds the access token lives, when it expires


def client_credentials(platform: str) -> tuple[str, str]:
    s = get_settings()
    meta = (s.meta_app_id, s.meta_app_secret)
    threads = (s.threads_app_id, s.threads_app_secret) if s.threads_app_id else meta
    return {"x": (s.x_client_id, s.x_client_secret),
            "linkedin": (s.linkedin_client_id, s.linkedin_client_secret),
            "facebook": meta, "instagram": meta, "threads": threads}.get(platform, ("", ""))


def _endpoints(provider: Provider, api_base: str) -> tuple[str, str]:
    if provider.platform == "mastodon":
        return (provider.authorize_url.format(base=api_base),
                provider.token_url.format(base=api_base))
    if api_base and api_base != provider.default_api_base:
        authorize, token = provider.override_paths
        return api_base + authorize, api_base + token
    return provider.authorize_url, provider.token_url


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    return verifier, challenge


def start(*, platform: str, api_base: str, redirect_uri: str,
          pick: str = "") -> tuple[str, dict[str, str]]:
    """The URL to send the person to, and the state to keep until the callback.

    ``pick`` names the Facebook Page (name or id) to connect when the person manages several.
    """
    provider = PROVIDERS.get(platform)
    if provider is None:
        raise Invalid.at("platform", f"{platform} connects with credentials, not OAuth.")
    api_base = api_base.strip().rstrip("/")
    if api_base and not api_base.startswith(("https://", "http://")):
        raise Invalid.at("api_base", "The API base URL must start with https://.")
    if api_base:
        try:
            netguard.check_url(api_base)
        except netguard.RefusedAddress as exc:
            raise Invalid.at("api_base", str(exc)) from None
    if platform == "mastodon":
        if not api_base:
            raise Invalid.at("api_base", "Name your Mastodon instance, e.g. "
                             "https://mastodon.social.")
        client_id, client_secret = _register_mastodon_app(api_base, redirect_uri)
    else:
        client_id, client_secret = client_credentials(platform)
        if not client_id or (provider.needs_secret and not client_secret):
            raise Invalid.at("platform", f"'Connect with {provider.label}' needs the operator "
                             f"to set {provider.settings_hint} (see the README); paste an "
                             "access token instead.")
    authorize, _ = _endpoints(provider, api_base)
    state = secrets.token_urlsafe(24)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": provider.scopes, "state": state}
    # The flow travels in the session cookie, which is signed, not encrypted: the operator's
    # client secret stays out of it and is read again at the callback. Only the secret of
    # the app just registered on a Mastodon instance (for this one connection) rides along.
    flow = {"platform": platform, "api_base": api_base, "client_id": client_id,
            "client_secret": client_secret if platform == "mastodon" else "",
            "state": state, "redirect_uri": redirect_uri, "pick": pick.strip()}
    if provider.pkce:
        verifier, challenge = _pkce()
        params.update(code_challenge=challenge, code_challenge_method="S256")
        flow["code_verifier"] = verifier
    return f"{authorize}?{urlencode(params)}", flow


def _register_mastodon_app(api_base: str, redirect_uri: str) -> tuple[str, str]:
    try:
        resp = http.session().post(f"{api_base}/api/v1/apps", timeout=TIMEOUT, json={
            "client_name": "Poise", "redirect_uris": redirect_uri, "scopes": "read write",
            "website": get_settings().public_base_url}, allow_redirects=False)
    except netguard.RefusedAddress as exc:
        raise Invalid.at("api_base", str(exc)) from None
    except requests.RequestException as exc:
        raise Invalid.at("api_base", f"{api_base} cannot be reached: {exc.__class__.__name__}."
                         ) from None
    if resp.status_code != 200:
        raise Invalid.at("api_base", f"{api_base} refused to register Poise "
                         f"(HTTP {resp.status_code}); is it a Mastodon instance?")
    body = resp.json()
    return str(body["client_id"]), str(body["client_secret"])


def _fetch(method: str, url: str, step: str, **kwargs: Any) -> dict[str, Any]:
    """One call of a flow; any failure becomes a plain-words problem to start again."""
    try:
        resp = http.session().request(method, url, timeout=TIMEOUT, **kwargs)
    except netguard.RefusedAddress as exc:
        raise Invalid.at("code", str(exc)) from None
    except requests.RequestException as exc:
        # The exception text may hold the URL, and Graph URLs carry tokens: name the class.
        raise Invalid.at("code", f"The platform could not be reached to {step} "
                         f"({exc.__class__.__name__}); try again.") from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if resp.status_code != 200:
        error = body.get("error")
        words = (error.get("message") if isinstance(error, dict) else None) or \
            body.get("error_description") or ""
        raise Invalid.at("code", f"The platform refused to {step} (HTTP {resp.status_code}"
                         f"{': ' + str(words) if words else ''}); start connecting again.")
    return body


def finish(*, flow: dict[str, str], code: str, state: str) -> Grant:
    """Exchange the code for tokens; returns the credentials to store and what was learnt."""
    if not flow or not secrets.compare_digest(flow.get("state", ""), state or ""):
        raise Invalid.at("state", "This sign-in link has expired or was not started here; "
                         "start connecting the account again.")
    provider = PROVIDERS[flow["platform"]]
    if provider.platform != "mastodon":
        flow = {**flow, "client_secret": client_credentials(provider.platform)[1]}
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
    if provider.platform in ("facebook", "instagram"):
        # Facebook Login's token endpoint is a Graph GET (without grant_type).
        data.pop("grant_type")
        body = _fetch("GET", token_url, "finish signing in", params=data)
        return _facebook_login(flow, str(body.get("access_token") or ""))
    body = _fetch("POST", token_url, "finish signing in", data=data, auth=auth)
    if provider.platform == "threads":
        return _threads_long_lived(flow, body)
    credentials = {"access_token": str(body.get("access_token") or "")}
    if body.get("refresh_token"):
        credentials["refresh_token"] = str(body["refresh_token"])
    if provider.platform == "linkedin" and body.get("scope"):
        # What was granted, not what was asked: without r_member_social the adapter knows it
        # cannot look posts up, and a page without w_organization_social cannot be posted to.
        credentials["scope"] = str(body["scope"])[:500]
    if provider.platform == "x":
        credentials["client_id"] = flow["client_id"]
        if flow.get("client_secret"):
            credentials["client_secret"] = flow["client_secret"]
    return Grant(credentials, expires_in=_seconds(body.get("expires_in")))


def _seconds(value: Any) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def _facebook_login(flow: dict[str, str], short_token: str) -> Grant:
    """Long-lived user token, then the page (and its Instagram account) to connect."""
    graph = f"{flow['api_base'] or FACEBOOK_GRAPH}/{GRAPH_VERSION}"
    long_lived = _fetch("GET", f"{graph}/oauth/access_token", "get a long-lived token", params={
        "grant_type": "fb_exchange_token", "client_id": flow["client_id"],
        "client_secret": flow["client_secret"], "fb_exchange_token": short_token})
    pages = _fetch("GET", f"{graph}/me/accounts", "list your Facebook Pages", params={
        "fields": "id,name,username,access_token,instagram_business_account{id,username}",
        "limit": 100, "access_token": str(long_lived.get("access_token") or "")})
    listed = [p for p in pages.get("data") or [] if isinstance(p, dict) and p.get("id")]
    page = _pick_page(listed, flow["platform"], flow.get("pick", ""))
    # A page token obtained through a long-lived user token does not expire.
    token = {"facebook": "page_access_token"}.get(flow["platform"], "access_token")
    credentials = {token: str(page.get("access_token") or "")}
    if flow["platform"] == "facebook":
        # The handle goes into m.me links, which take the page's username or its id.
        return Grant(credentials, external_id=str(page["id"]),
                     handle=str(page.get("username") or page["id"]))
    linked = page["instagram_business_account"]
    username = str(linked.get("username") or "")
    credentials["page_id"] = str(page["id"])  # replies are sent by the linked Page
    return Grant(credentials, external_id=str(linked["id"]),
                 handle=f"@{username}" if username else str(page.get("name", "")))


def _pick_page(pages: list[dict[str, Any]], platform: str, pick: str) -> dict[str, Any]:
    if platform == "instagram":
        pages = [p for p in pages if isinstance(p.get("instagram_business_account"), dict)]
    if not pages:
        what = ("a Facebook Page with an Instagram professional account linked"
                if platform == "instagram" else "a Facebook Page")
        raise Invalid.at("code", f"The sign-in granted no access to {what}; start again and "
                         "tick the page when Facebook asks.")
    if not pick:
        return pages[0]
    wanted = pick.casefold().lstrip("@")
    for page in pages:
        linked = page.get("instagram_business_account") or {}
        names = {str(page.get("id")), str(page.get("name", "")).casefold(),
                 str(page.get("username", "")).casefold(),
                 str(linked.get("id", "")), str(linked.get("username", "")).casefold()}
        if wanted in names:
            return page
    raise Invalid.at("code", f"No page named {pick!r} among those granted ("
                     f"{', '.join(str(p.get('name', p['id'])) for p in pages)}); "
                     "start again with one of these.")


def _threads_long_lived(flow: dict[str, str], body: dict[str, Any]) -> Grant:
    base = flow["api_base"] or PROVIDERS["threads"].default_api_base
    long_lived = _fetch("GET", f"{base}/access_token", "get a long-lived token", params={
        "grant_type": "th_exchange_token", "client_secret": flow["client_secret"],
        "access_token": str(body.get("access_token") or "")})
    return Grant({"access_token": str(long_lived.get("access_token") or "")},
                 external_id=str(body.get("user_id") or ""),
                 expires_in=_seconds(long_lived.get("expires_in")))
