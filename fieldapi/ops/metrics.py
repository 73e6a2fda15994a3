"""What ``GET /metrics`` shows, in the Prometheus text format (prometheus-client).

Under gunicorn every worker is its own process; ``gunicorn.conf.py`` sets
``PROMETHEUS_MULTIPROC_DIR`` before any worker starts, each worker then keeps its counts in
a file there, and a scrape, answered by whichever worker, adds up the files of all of them
(the workers that exited too). Without it (``flask run``, the tests) the counts live in this
process's default registry.

Every request passes ``observe_request``: its label children are looked up once and kept, so
a request costs two dictionary lookups and three increments.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

# prometheus-client picks per-process files or in-memory values once, when it is imported.
MULTIPROCESS = bool(getattr(values.ValueClass, "_multiprocess", False))

# Reads are tuned to answer in about a millisecond; sync pages and photo checks take longer.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"  # no route: 404 and 405 (the raw path is never a label)
REJECTED = "(rejected)"  # refused by gunicorn before the app saw it (414, 431, 400)

REQUESTS = Counter(
    "fieldapi_http_requests",
    "Requests answered, by route template, method and status.",
    ("route", "method", "status"),
)
LATENCY = Histogram(
    "fieldapi_http_request_duration_seconds",
    "Time from the request reaching the app to its answer being ready, by route template.",
    ("route", "method"),
    buckets=BUCKETS,
)
PHOTO_VERIFICATIONS = Counter(
    "fieldapi_photo_verifications",
    "Photos checked by POST /api/v1/photos/{id}/complete: verified, or rejected and why.",
    ("outcome", "reason"),
)
SYNC_PAGES = Counter(
    "fieldapi_sync_pages",
    "Pages served by GET /api/v1/sync: without a cursor (a full copy starts), or with one.",
    ("cursor",),
)

_children: dict[tuple[str, str, int], tuple] = {}


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _children.get(key)
    if children is None:
        children = _children.setdefault(
            key, (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
        )
    children[0].inc()
    children[1].observe(seconds)


def count_rejected(status: int) -> None:
    """A request gunicorn answered itself: no route, no method read, no time in the app."""
    REQUESTS.labels(REJECTED, "other", str(status)).inc()


def photo_verified() -> None:
    PHOTO_VERIFICATIONS.labels("verified", "").inc()


def photo_rejected(reason: str) -> None:
    PHOTO_VERIFICATIONS.labels("rejected", reason).inc()


def sync_page(*, cursor: bool) -> None:
    SYNC_PAGES.labels("given" if cursor else "none").inc()


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The body and content type of a scrape (OpenMetrics when the scraper asks for it)."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
