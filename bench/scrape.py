"""Request counts by route, method and status from a Prometheus text exposition."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
ROUTE_LABELS = ("route", "endpoint", "path", "handler", "template", "rule", "url_rule")
STATUS_LABELS = ("status", "code", "status_code")
PARAMETER = re.compile(r"<[^>]*>|\{[^}]*\}")  # Flask's <uuid:id> or OpenAPI's {id}


@dataclass(frozen=True)
class Requests:
    metric: str  # the counter read
    counts: Counter[tuple[str, str, str]]  # (method, route, status) -> requests


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _first(labels: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((labels[name] for name in names if name in labels), None)


def requests_by_route(text: str) -> Requests | None:
    """The request counter with route, method and status labels: a ``*requests_total``
    counter if there is one, else a latency histogram's ``*_count``. None when neither."""
    found: dict[str, Counter[tuple[str, str, str]]] = {}
    for line in text.splitlines():
        match = SAMPLE.match(line.strip())
        if match is None or line.startswith("#"):
            continue
        name, raw_labels, raw_value = match.groups()
        labels = {key: _unescape(value) for key, value in LABEL.findall(raw_labels or "")}
        route, status = _first(labels, ROUTE_LABELS), _first(labels, STATUS_LABELS)
        if route is None or status is None or "method" not in labels:
            continue
        try:
            value = float(raw_value)
        except ValueError:
            continue
        found.setdefault(name, Counter())[(labels["method"].upper(), route, status)] += int(value)
    for suffix in ("requests_total", "_count"):
        for name, counts in found.items():
            if name.endswith(suffix):
                return Requests(name, counts)
    return None


def matches(route: str, path: str) -> bool:
    """Whether the route template ``route`` is the one ``path`` (no query) was served by."""
    pieces = PARAMETER.split(route)
    pattern = "[^/]+".join(re.escape(piece) for piece in pieces)
    return re.fullmatch(pattern, path) is not None
