"""One catalogue of problems (RFC 9457), and the handlers that render every error with it.

Each problem has a stable ``type`` URI ending in its slug; clients match on the slug.
Titles are written for the person holding the phone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, current_app, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

TYPE_BASE = "https://fieldapi.example/problems/"
MEDIA_TYPE = "application/problem+json"

# slug -> (status, title)
CATALOGUE: dict[str, tuple[int, str]] = {
    "malformed-request": (400, "The request could not be read. Send well-formed JSON."),
    "idempotency-key-invalid": (
        400,
        "The Idempotency-Key header is not valid. Send one key of up to 255 visible characters, "
        "such as a UUID.",
    ),
    "invalid-cursor": (400, "The page cursor is not valid. Start again from the first page."),
    "authentication-required": (401, "Sign in to continue."),
    "invalid-credentials": (401, "The username or password is not correct."),
    "token-expired": (401, "Your session has expired. Sign in again or refresh it."),
    "token-invalid": (401, "Your session is not valid. Sign in again."),
    "token-revoked": (401, "Your session has ended. Sign in again."),
    "forbidden": (403, "Your role does not allow this."),
    "not-found": (404, "Not found, or not in your area."),
    "method-not-allowed": (405, "This address does not accept that method."),
    "not-acceptable": (406, "The requested representation is not available."),
    "conflict": (409, "This conflicts with what is already stored."),
    "idempotency-in-progress": (
        409,
        "The first request with this Idempotency-Key is still being handled. Wait, then send "
        "it again.",
    ),
    "precondition-failed": (
        412,
        "Someone changed this record after you loaded it. Reload it and try again.",
    ),
    "payload-too-large": (413, "The request is too large."),
    "uri-too-long": (414, "The address is too long. Send long values in the body instead."),
    "unsupported-media-type": (415, "Send the body as application/json."),
    "expectation-failed": (417, "The server cannot meet the Expect header of this request."),
    "validation-failed": (422, "Some fields are not valid. Correct them and send again."),
    "idempotency-key-reused": (
        422,
        "This Idempotency-Key was already used for a different request. Use a new key for "
        "new work.",
    ),
    "precondition-required": (
        428,
        "Send If-Match with the ETag of the record you loaded, so changes are not lost.",
    ),
    "too-many-requests": (429, "Too many attempts. Wait a moment and try again."),
    "request-headers-too-large": (431, "The request's headers are too large."),
    "internal-error": (500, "Something went wrong on the server. Try again later."),
    "not-implemented": (501, "The server does not support what this request asks for."),
    "service-unavailable": (503, "The service is temporarily unavailable. Try again shortly."),
}

_SLUG_BY_STATUS = {
    400: "malformed-request",
    401: "authentication-required",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    417: "expectation-failed",
    422: "validation-failed",
    428: "precondition-required",
    429: "too-many-requests",
    431: "request-headers-too-large",
    501: "not-implemented",
    503: "service-unavailable",
}


class Problem(Exception):
    """An error to show the client. Services raise these; one handler renders them."""

    slug = "internal-error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        slug: str | None = None,
        errors: Iterable[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        if slug is not None:
            self.slug = slug
        if self.slug not in CATALOGUE:
            raise ValueError(f"unknown problem slug {self.slug!r}")
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = [dict(e) for e in errors] if errors else None
        self.headers = dict(headers or {})
        self.extensions = extensions

    @property
    def status(self) -> int:
        return CATALOGUE[self.slug][0]

    @property
    def title(self) -> str:
        return CATALOGUE[self.slug][1]

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body

    def response(self) -> Response:
        return problem_response(self)


class BadRequest(Problem):
    slug = "malformed-request"


class Unauthorized(Problem):
    slug = "authentication-required"


class Forbidden(Problem):
    slug = "forbidden"


class NotFound(Problem):
    slug = "not-found"


class Conflict(Problem):
    slug = "conflict"


class PreconditionFailed(Problem):
    slug = "precondition-failed"


class PreconditionRequired(Problem):
    slug = "precondition-required"


class ValidationFailed(Problem):
    slug = "validation-failed"

    @classmethod
    def field(cls, pointer: str, detail: str) -> ValidationFailed:
        return cls(detail, errors=[{"pointer": pointer, "detail": detail}])


class TooManyRequests(Problem):
    slug = "too-many-requests"

    def __init__(self, detail: str | None = None, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, int(retry_after)))})


class ServiceUnavailable(Problem):
    slug = "service-unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def for_status(code: int, detail: str | None = None, **kwargs: Any) -> Problem:
    """The catalogue's problem for a status chosen by a library (werkzeug, gunicorn)."""
    slug = _SLUG_BY_STATUS.get(code)
    if slug is None:
        slug = "internal-error" if code >= 500 else "malformed-request"
    return Problem(detail, slug=slug, **kwargs)


def problem_response(problem: Problem) -> Response:
    response = Response(json.dumps(problem.body()), status=problem.status, mimetype=MEDIA_TYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def _escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def field_errors(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten marshmallow's nested messages into ``[{"pointer", "detail"}]`` (JSON Pointers)."""
    out: list[dict[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            token = "" if key == "_schema" else "/" + _escape_pointer_token(str(key))
            out.extend(field_errors(value, prefix + token))
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            out.extend({"pointer": prefix or "", "detail": m} for m in messages)
        else:
            for m in messages:
                out.extend(field_errors(m, prefix))
    else:
        out.append({"pointer": prefix or "", "detail": str(messages)})
    return out


def _from_webargs(exc: HTTPException) -> Problem:
    """webargs reports unreadable JSON as 400 and invalid fields as 422, by location."""
    if exc.code == 400:
        return BadRequest("The body is not valid JSON.")
    messages = (getattr(exc, "data", None) or {}).get("messages") or {}
    errors: list[dict[str, str]] = []
    for location, fields in messages.items():
        for item in field_errors(fields):
            if location != "json":
                item["location"] = location
            errors.append(item)
    return ValidationFailed(errors=errors or None)


def from_http_exception(exc: HTTPException) -> Problem:
    # Flask wraps what fails outside the view (a commit in after_request) in a 500 that
    # keeps the original; answer for the original, as if the view had raised it.
    original = getattr(exc, "original_exception", None)
    if isinstance(exc, InternalServerError) and original is not None:
        if isinstance(original, Problem):
            return original
        if not isinstance(original, HTTPException):
            return unexpected_problem(original)
    code = exc.code or 500
    if code in (400, 422) and getattr(exc, "data", None):
        return _from_webargs(exc)
    headers = {}
    valid_methods = getattr(exc, "valid_methods", None)
    if code == 405 and valid_methods:
        headers["Allow"] = ", ".join(sorted(valid_methods))
    detail = "The request body is larger than this address accepts." if code == 413 else None
    return for_status(code, detail, headers=headers)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _takes_json_body(handler: Any) -> bool:
    """True when the view reads its body as JSON (flask-smorest ``@blp.arguments``)."""
    arguments = (getattr(handler, "_apidoc", None) or {}).get("arguments") or {}
    return any(p.get("in") == "json" for p in arguments.get("parameters", ()))


def refuse_unreadable_bodies() -> None:
    """A body the route would read as JSON must be sent as JSON: 415 rather than reading it
    as empty, which would turn a form post into "fields missing" and a PATCH into a no-op.

    And it must be JSON the app reads (``fieldapi.core.jsonbody``): it is read here, before
    any work (an Idempotency-Key claim included), and a hostile one answers 400 at once.
    """
    if request.endpoint is None or request.method not in _BODY_METHODS:
        return
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not (request.content_length or chunked):
        return
    from fieldapi.core.permissions import view_handler

    if not _takes_json_body(view_handler(current_app, request.endpoint, request.method)):
        return
    if not request.is_json:
        raise Problem(
            f"This address reads application/json, not {request.mimetype or 'an untyped body'}.",
            slug="unsupported-media-type",
        )
    if request.get_data(cache=True):
        request.get_json()  # the strict reader; the value is kept for the view


def unexpected_problem(exc: BaseException) -> Problem:
    """What a failure that is not a Problem tells the client: its kind, never its text."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from sqlalchemy.orm.exc import StaleDataError

    from storage.errors import StorageUnavailable

    if isinstance(exc, StorageUnavailable):
        return ServiceUnavailable("The photo store cannot be reached.")
    if isinstance(exc, StaleDataError):
        # A versioned row changed under a write that had read it: the client's copy is old.
        return PreconditionFailed()
    if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in ("40001", "40P01"):
        # Serialization failure or deadlock: the database undid this write; doing it again works.
        return ServiceUnavailable(
            "Many changes met at the same moment. Send it again.", retry_after=1
        )
    if isinstance(exc, PoolTimeout) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return ServiceUnavailable("The database cannot be reached.")
    # SQLite files mistakes in a statement (no such table, bad syntax) under OperationalError
    # too; those are faults of the server, not an outage to wait out.
    if isinstance(exc, OperationalError) and (
        getattr(exc.orig, "sqlite_errorname", None) != "SQLITE_ERROR"
    ):
        return ServiceUnavailable("The database cannot be reached.")
    if isinstance(exc, IntegrityError):
        # A constraint the service's own checks could not see: usually a race with another
        # writer (the same id or code saved at the same moment).
        return Conflict("This conflicts with a record saved at the same moment. Reload it.")
    return Problem(slug="internal-error")


def register_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return problem_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return problem_response(from_http_exception(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        problem = unexpected_problem(exc)
        if problem.status == 500:
            log.exception("unhandled error")
        else:
            log.warning("%s: %s", problem.detail, type(exc).__name__, exc_info=exc)
        return problem_response(problem)
