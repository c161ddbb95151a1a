"""Kubernetes API errors as exceptions that carry their `Status` (reason, code, causes).

Every component raises these for bad input; the API server writes `to_status()` as the
response body, and clients turn a Status body back into the same exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Cause:
    """A field-level cause of an Invalid error: reason like FieldValueRequired."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass(eq=False)
class StatusError(Exception):
    code: int
    reason: str
    message: str
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int = 0

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    def to_status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            details["retryAfterSeconds"] = self.retry_after_seconds
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            status["details"] = details
        return status

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> StatusError:
        details = status.get("details") or {}
        causes = [
            Cause(c.get("field", ""), c.get("message", ""), c.get("reason", ""))
            for c in details.get("causes") or []
        ]
        return cls(
            code=int(status.get("code") or 500),
            reason=str(status.get("reason") or "InternalError"),
            message=str(status.get("message") or ""),
            name=str(details.get("name") or ""),
            group=str(details.get("group") or ""),
            kind=str(details.get("kind") or ""),
            causes=causes,
            retry_after_seconds=int(details.get("retryAfterSeconds") or 0),
        )


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, *, group: str = "") -> StatusError:
    what = _qualified(resource, group)
    return StatusError(404, "NotFound", f'{what} "{name}" not found', name, group, resource)


def already_exists(resource: str, name: str, *, group: str = "") -> StatusError:
    what = _qualified(resource, group)
    return StatusError(
        409, "AlreadyExists", f'{what} "{name}" already exists', name, group, resource
    )


def conflict(resource: str, name: str, detail: str, *, group: str = "") -> StatusError:
    what = _qualified(resource, group)
    message = f'Operation cannot be fulfilled on {what} "{name}": {detail}'
    return StatusError(409, "Conflict", message, name, group, resource)


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid(kind: str, name: str, causes: list[Cause], *, group: str = "") -> StatusError:
    summary = ", ".join(f"{c.field}: {c.message}" for c in causes)
    if len(causes) > 1:
        summary = f"[{summary}]"
    message = (
        f'{kind}.{group} "{name}" is invalid: {summary}'
        if group
        else (f'{kind} "{name}" is invalid: {summary}')
    )
    return StatusError(422, "Invalid", message, name, group, kind, list(causes))


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def forbidden(message: str) -> StatusError:
    return StatusError(403, "Forbidden", message)


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def gone(message: str) -> StatusError:
    """410 for a resourceVersion older than the retained history: clients relist."""
    return StatusError(410, "Expired", message)


def request_entity_too_large(message: str) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", message)


def unsupported_media_type(message: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", message)


def too_many_requests(message: str, *, retry_after_seconds: int = 1) -> StatusError:
    return StatusError(429, "TooManyRequests", message, retry_after_seconds=retry_after_seconds)


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", message)


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)
