"""Health and operational endpoints (no login)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import text

from planner.settings import PROJECT_ROOT
from planner.web.deps import SessionDep

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness and database reachability")
def healthz(session: SessionDep) -> JSONResponse:
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/api/docs", include_in_schema=False)
def api_docs() -> FileResponse:
    """The API reference: the vendored Swagger UI (static/vendor/swagger-ui, version in its
    VERSION file) started by static/js/api-docs.js, so it works offline and without inline
    script."""
    return FileResponse(PROJECT_ROOT / "static" / "api-docs.html", media_type="text/html")
