"""How /api/v1 documents its errors (every area's API uses these).

Every error is an RFC 9457 problem detail (``application/problem+json``, rendered by
``planner.web.errors``); ``ProblemDetail`` documents that shape once, and ``COMMON_ERRORS`` /
``WRITE_ERRORS`` reference it from each operation's 401/403/404/409/422 responses.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ProblemError(BaseModel):
    """One problem with one input."""

    loc: list[str | int] = Field(description="Path to the input, e.g. [\"account_ids\", 1] or "
                                 "[\"line\", 4, \"local_time\"] for a CSV cell",
                                 examples=[["account_ids", 1]])
    field: str = Field(description="The path joined with dots", examples=["account_ids.1"])
    msg: str = Field(description="What is wrong, in plain words",
                     examples=["No such account in this workspace."])


class ProblemDetail(BaseModel):
    """An error (RFC 9457 problem details), sent as ``application/problem+json``."""

    type: str = Field("about:blank", examples=["about:blank"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["Some target accounts do not exist here."])
    errors: list[ProblemError] | None = Field(
        None, description="Present for invalid input: each field path and its problem")


_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetail"}
_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {"type": "about:blank", "title": "Login required", "status": 401,
          "detail": "This API token is unknown or revoked."},
    403: {"type": "about:blank", "title": "Not allowed", "status": 403,
          "detail": "Only brand leads and admins can approve or send back posts."},
    404: {"type": "about:blank", "title": "Not found", "status": 404,
          "detail": "No such post in this workspace."},
    409: {"type": "about:blank", "title": "Conflict", "status": 409,
          "detail": "Someone else changed this post while you were working on it (now "
                    "version 3, you had 2). Reload to see their changes; yours were not saved."},
    429: {"type": "about:blank", "title": "Too many attempts", "status": 429,
          "detail": "Too many failed attempts. Try again in about 12 minutes."},
    422: {"type": "about:blank", "title": "Invalid input", "status": 422,
          "detail": "Some target accounts do not exist here.",
          "errors": [{"loc": ["account_ids", 1], "field": "account_ids.1",
                      "msg": "No such account in this workspace."}]},
}


def problem(status: int, description: str) -> dict[str, Any]:
    """An OpenAPI response entry: the shared ProblemDetail schema with an example."""
    return {"model": ProblemDetail, "description": description,
            "content": {"application/problem+json": {"schema": _PROBLEM_REF,
                                                      "example": _EXAMPLES[status]}}}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: problem(401, "Missing, unknown or revoked token"),
    404: problem(404, "Not found (or not visible to you)"),
    422: problem(422, "Invalid input; `errors` lists each field path and problem"),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    403: problem(403, "Your role does not allow this"),
    409: problem(409, "Version conflict, or a state that does not allow this"),
}
