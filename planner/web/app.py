"""The FastAPI application factory."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from planner.settings import PROJECT_ROOT, Settings, get_settings
from planner.web import errors

log = logging.getLogger(__name__)

API_DESCRIPTION = """The Poise REST API. Authenticate with a personal API token (Settings ->
API tokens) sent as `Authorization: Bearer <token>`. Errors are RFC 9457 problem details
(`application/problem+json`) with an `errors` list of `{loc, field, msg}` for invalid input."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Poise", version="0.1.0", description=API_DESCRIPTION,
                  docs_url="/api/docs", redoc_url=None, openapi_url="/openapi.json")
    app.add_middleware(
        SessionMiddleware, secret_key=settings.effective_secret_key(),
        session_cookie="poise_session", same_site="lax", https_only=settings.secure_cookies,
        max_age=int(timedelta(days=14).total_seconds()),
    )
    errors.install(app)

    @app.middleware("http")
    async def server_timing(request: Request,
                            call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Server time per response, for operators' dev tools and for bench/.
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response

    app.mount("/static", StaticFiles(directory=str(PROJECT_ROOT / "static")), name="static")
    # Uploaded images, public by design: Instagram and Threads fetch a post's image by URL.
    # Names are random UUIDs under the workspace id, so they cannot be guessed or listed.
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
    from planner.posts import routes_actions, routes_calendar, routes_review
    from planner.publishing import routes as publishing_routes
    from planner.team import api as team_api
    from planner.team import routes as team_routes
    from planner.team import routes_auth, routes_notifications
    from planner.web import system

    return [system.router, routes_auth.router, team_routes.router, routes_calendar.router,
            post_routes.router, routes_actions.router, routes_review.router, account_routes.router,
            balance_routes.router, team_api.router, post_api.router, balance_api.router,
            publishing_routes.router, routes_notifications.router, conversion_routes.router,
            conversion_api.router, insight_routes.router, insight_api.router]
