"""gunicorn's own refusals, answered as problem+json like every other error.

gunicorn refuses some requests before the app sees them (a request line over 4 KB: 414,
headers too large: 431, a request it cannot parse: 400) and writes them with
``gunicorn.util.write_error``, as an HTML page. ``gunicorn.conf.py`` replaces that function
with ``write_problem``, in the workers, which call it.
"""

from __future__ import annotations

from http import HTTPStatus

import orjson
from gunicorn.util import write_nonblock

from fieldapi.core.problems import MEDIA_TYPE, Problem, for_status
from fieldapi.ops import logs, metrics
from fieldapi.ops.telemetry import HEADER, request_id_from

# gunicorn's message may quote the request line (with its query string); the client is told
# what the catalogue says instead, and, for the limits, which one it met.
DETAILS = {
    414: "The request line is longer than this server reads (4 KB by default).",
    431: "The request has more header fields, or longer ones, than this server reads.",
}


def problem_answer(problem: Problem) -> tuple[bytes, str]:
    """The whole HTTP answer for a refusal, and the request id it carries."""
    body = orjson.dumps(problem.body())
    request_id = request_id_from(None)
    head = (
        f"HTTP/1.1 {problem.status} {HTTPStatus(problem.status).phrase}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {MEDIA_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{HEADER}: {request_id}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body, request_id


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error``'s replacement, same signature. ``reason`` and ``mesg``
    are gunicorn's wording; the answer says what the catalogue says."""
    problem = for_status(status_int, DETAILS.get(status_int))
    answer, request_id = problem_answer(problem)
    metrics.count_rejected(problem.status)
    logs.request_line(
        request_id=request_id, method=None, route=None, status=problem.status, duration_ms=None
    )
    write_nonblock(sock, answer)
