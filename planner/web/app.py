"""The FastAPI application factory."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planner.settings import PROJECT_ROOT, Settings, get_settings
from planner.web import errors, guards

log = logging.getLogger(__name__)

API_DESCRIPTION = """The Poise REST API. Authenticate with a personal API token (Settings ->
API tokens) sent as `Authorization: Bearer <token>`. Errors are RFC 9457 problem details
(`application/problem+json`) with an `errors` list of `{loc, field, msg}` for invalid input."""


class PoiseApp(FastAPI):
    """FastAPI with the body limit and the security headers outside everything else, so even
    the error middleware's answers carry the headers."""

    media_max_bytes = 8 * 1024 * 1024
    hsts = False

    def build_middleware_stack(self) -> ASGIApp:
        inner = super().build_middleware_stack()
        return guards.SecurityHeaders(
            guards.BodyLimit(inner, media_max_bytes=self.media_max_bytes), hsts=self.hsts)


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
                message["headers"] = [*message.get("headers", []),
                                      (b"server-timing", took.encode())]
            await send(message)

        await self.app(scope, receive, timed)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = PoiseApp(title="Poise", version="0.1.0", description=API_DESCRIPTION,
                   docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.add_middleware(
        SessionMiddleware, secret_key=settings.effective_secret_key(),
        session_cookie="poise_session", same_site="lax", https_only=settings.cookies_secure,
        max_age=int(timedelta(days=14).total_seconds()),
    )
    app.media_max_bytes = settings.media_max_bytes
    app.hsts = settings.public_base_url.startswith("https://")
    errors.install(app)

    # Server time per response, for operators' dev tools and for bench/. Plain ASGI, not
    # @app.middleware: that one reads the body in a task group, which wraps the body
    # limit's 413 in an ExceptionGroup that FastAPI then reports as a 400.
    app.add_middleware(ServerTiming)

    app.mount("/static", StaticFiles(directory=str(PROJECT_ROOT / "static")), name="static")
    # Uploaded images, public by design: Instagram and Threads fetch a post's image by URL.
    # Names are random UUIDs under the workspace id, so they cannot be guessed or listed.
    # Created up front: without it every /media address answered 500.
    settings.media_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    app.mount("/media", StaticFiles(directory=str(settings.media_dir), check_dir=False),
              name="media")
    for router in _routers():
        app.include_router(router)
    return app


def _routers() -> list[APIRouter]:
    """Every area's routers, in matching order (a literal path before a parameterised one)."""
    from planner.accounts import routes as account_routes
    from planner.balance import api as balance_api
    from planner.balance import routes as balance_routes
    from planner.conversions import api as conversion_api
    from planner.conversions import routes as conversion_routes
    from planner.insight import api as insight_api
    from planner.insight import routes as insight_routes
    from planner.posts import api as post_api
    from planner.posts import routes as post_routes
    from planner.posts import routes_actions, routes_calendar, routes_review, routes_slots
    from planner.publishing import api as publishing_api
    from planner.publishing import routes as publishing_routes
    from planner.team import api as team_api
    from planner.team import routes as team_routes
    from planner.team import routes_auth, routes_invites, routes_notifications
    from planner.web import system

    return [system.router, routes_auth.router, routes_invites.router, team_routes.router,
            routes_calendar.router, post_routes.router, routes_actions.router,
            routes_review.router, routes_slots.router, account_routes.router,
            balance_routes.router, team_api.router, routes_invites.api_router, post_api.router,
            balance_api.router,
            publishing_routes.router, publishing_api.router, routes_notifications.router,
            conversion_routes.router, conversion_api.router, insight_routes.router,
            insight_api.router]
