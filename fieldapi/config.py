"""Settings, read from the environment only.

With nothing set the service runs on the embedded default: a SQLite file and a blob
folder under ``FIELDAPI_DATA_DIR`` (``./var``), and a secret key generated once into it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


def _int(environ: dict[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from exc


def _deadlines(environ: dict[str, str], name: str) -> tuple[tuple[str, int], ...]:
    """``critical=24,major=168,minor=720``: hours per severity; a severity left out keeps
    its default."""
    hours = dict(Settings.hazard_deadline_hours)
    raw = (environ.get(name) or "").strip()
    for part in filter(None, (p.strip() for p in raw.split(","))):
        severity, _, value = part.partition("=")
        severity = severity.strip()
        if severity not in hours or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"{name}: expected severity=hours for {sorted(hours)}, not {part!r}")
        hours[severity] = int(value)
    return tuple(hours.items())


def _at_least(environ: dict[str, str], name: str, default: int, least: int, why: str) -> int:
    value = _int(environ, name, default)
    if value < least:
        raise ValueError(f"{name} must be at least {least} ({why}), not {value}")
    return value


def _token(environ: dict[str, str], name: str, *, least: int) -> str | None:
    token = (environ.get(name) or "").strip()
    if not token:
        return None
    if len(token) < least or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError(f"{name} must be at least {least} visible ASCII characters, no spaces")
    return token


def _load_or_create_secret(data_dir: Path) -> str:
    """Keep one random key in the data dir so tokens survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Exclusive create: two workers starting together keep the first key written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    s3_endpoint_url: str | None
    s3_region: str | None
    secret_key: str
    public_url: str | None
    redis_url: str | None
    trusted_proxies: int = 0
    redis_prefix: str = "fieldapi:"
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    max_request_bytes: int = 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    login_failures_per_username: int = 5
    login_failures_per_address: int = 100
    login_window_seconds: int = 900
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    photo_slot_minutes: int = 15
    photo_link_seconds: int = 600
    photo_max_distance_m: int = 200
    photo_max_age_hours: int = 72
    # Rectification deadlines by hazard severity, and how long a review stage may take.
    hazard_deadline_hours: tuple[tuple[str, int], ...] = (
        ("critical", 24),
        ("major", 7 * 24),
        ("minor", 30 * 24),
    )
    review_stage_hours: int = 72
    self_check_notice_days: int = 3
    # How long an Idempotency-Key and its answer are kept; phones may retry after days offline.
    idempotency_hours: int = 72
    # How long sync's change log is kept: a phone that last synced longer ago starts again.
    sync_keep_days: int = 90
    # The bearer token a Prometheus scraper sends for /metrics; unset: loopback callers only.
    metrics_token: str | None = None

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        data_dir = Path(env.get("FIELDAPI_DATA_DIR") or "./var").resolve()
        database_url = env.get("FIELDAPI_DATABASE_URL") or f"sqlite:///{data_dir / 'fieldapi.db'}"
        storage_url = env.get("FIELDAPI_STORAGE_URL") or (data_dir / "blobs").as_uri()
        if database_url.startswith("sqlite") or storage_url.startswith("file:"):
            data_dir.mkdir(parents=True, exist_ok=True)
        secret_key = env.get("FIELDAPI_SECRET_KEY") or _load_or_create_secret(data_dir)
        if len(secret_key) < 32:
            raise ValueError("FIELDAPI_SECRET_KEY must be at least 32 characters")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            storage_url=storage_url,
            s3_endpoint_url=env.get("FIELDAPI_S3_ENDPOINT_URL") or None,
            s3_region=env.get("AWS_DEFAULT_REGION") or None,
            secret_key=secret_key,
            public_url=(env.get("FIELDAPI_PUBLIC_URL") or "").rstrip("/") or None,
            redis_url=env.get("FIELDAPI_REDIS_URL") or None,
            trusted_proxies=_int(env, "FIELDAPI_TRUSTED_PROXIES", 0),
            redis_prefix=env.get("FIELDAPI_REDIS_PREFIX") or "fieldapi:",
            access_token_minutes=min(_int(env, "FIELDAPI_ACCESS_TOKEN_MINUTES", 15), 15),
            refresh_token_days=min(_int(env, "FIELDAPI_REFRESH_TOKEN_DAYS", 30), 30),
            max_request_bytes=_int(env, "FIELDAPI_MAX_REQUEST_BYTES", 1024 * 1024),
            max_upload_bytes=_int(env, "FIELDAPI_MAX_UPLOAD_BYTES", 50 * 1024 * 1024),
            login_failures_per_username=_int(env, "FIELDAPI_LOGIN_FAILURES_PER_USERNAME", 5),
            login_failures_per_address=_int(env, "FIELDAPI_LOGIN_FAILURES_PER_ADDRESS", 100),
            login_window_seconds=_int(env, "FIELDAPI_LOGIN_WINDOW_SECONDS", 900),
            argon2_time_cost=_int(env, "FIELDAPI_ARGON2_TIME_COST", 3),
            argon2_memory_kib=_int(env, "FIELDAPI_ARGON2_MEMORY_KIB", 65536),
            photo_slot_minutes=min(_int(env, "FIELDAPI_PHOTO_SLOT_MINUTES", 15), 15),
            photo_link_seconds=_int(env, "FIELDAPI_PHOTO_LINK_SECONDS", 600),
            photo_max_distance_m=_int(env, "FIELDAPI_PHOTO_MAX_DISTANCE_M", 200),
            photo_max_age_hours=_int(env, "FIELDAPI_PHOTO_MAX_AGE_HOURS", 72),
            hazard_deadline_hours=_deadlines(env, "FIELDAPI_HAZARD_DEADLINE_HOURS"),
            review_stage_hours=_int(env, "FIELDAPI_REVIEW_STAGE_HOURS", 72),
            self_check_notice_days=_int(env, "FIELDAPI_SELF_CHECK_NOTICE_DAYS", 3),
            idempotency_hours=_at_least(
                env, "FIELDAPI_IDEMPOTENCY_HOURS", 72, 72, "phones retry after days offline"
            ),
            sync_keep_days=_at_least(
                env, "FIELDAPI_SYNC_KEEP_DAYS", 90, 7, "phones go days without signal"
            ),
            metrics_token=_token(env, "FIELDAPI_METRICS_TOKEN", least=16),
        )

    def hazard_deadline(self, severity: str) -> int:
        """Hours a hazard of ``severity`` may stay open."""
        return dict(self.hazard_deadline_hours)[severity]
