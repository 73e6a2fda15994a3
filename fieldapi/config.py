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
        )
