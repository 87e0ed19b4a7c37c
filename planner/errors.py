"""One error hierarchy for services; the web layer renders it as a page, a partial or JSON."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one input, addressed by its path (e.g. ``("body", "accounts", 0)``)."""

    loc: tuple[str | int, ...]
    message: str

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.loc if part not in ("body", "query", "form"))


class PlannerError(Exception):
    status_code = 400
    title = "Bad request"

    def __init__(self, message: str, *, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class NotAuthenticated(PlannerError):
    status_code = 401
    title = "Login required"


class Forbidden(PlannerError):
    status_code = 403
    title = "Not allowed"


class NotFound(PlannerError):
    status_code = 404
    title = "Not found"


class Conflict(PlannerError):
    status_code = 409
    title = "Conflict"


class Invalid(PlannerError):
    status_code = 422
    title = "Invalid input"

    @classmethod
    def at(cls, field: str, message: str) -> Invalid:
        return cls(message, problems=[FieldProblem(tuple(field.split(".")), message)])


class Unavailable(PlannerError):
    status_code = 503
    title = "Service unavailable"
