"""Blob storage for photo evidence, independent of the web application.

``from_url`` builds the configured store; everything else talks to it through the
``BlobStore`` protocol.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from storage.errors import (
    BlobNotFound,
    InvalidKey,
    StorageError,
    StorageUnavailable,
    TooLarge,
)
from storage.interfaces import (
    MAX_KEY_LENGTH,
    BlobInfo,
    BlobStore,
    UploadInstruction,
    validate_key,
    validate_prefix,
)
from storage.local import LocalBlobStore
from storage.s3 import S3BlobStore

__all__ = [
    "MAX_KEY_LENGTH",
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "InvalidKey",
    "LocalBlobStore",
    "S3BlobStore",
    "StorageError",
    "StorageUnavailable",
    "TooLarge",
    "UploadInstruction",
    "from_url",
    "validate_key",
    "validate_prefix",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def from_url(url: str, *, endpoint_url: str | None = None, region: str | None = None) -> BlobStore:
    """Build a store from a URL.

    ``s3://BUCKET`` is an ``S3BlobStore`` on ``endpoint_url`` (None means AWS) in ``region``;
    ``s3://BUCKET?post_policy=0`` makes it hand out presigned PUTs instead of POST policies.
    ``file:///ABS/PATH`` is a ``LocalBlobStore`` rooted at that absolute path, which is
    created if missing; ``endpoint_url`` and ``region`` are ignored for it.

    Raises ValueError for any other scheme, a relative path, or unknown options.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        return _s3_from_parts(parts, endpoint_url=endpoint_url, region=region)
    if scheme == "file":
        return _local_from_parts(parts)
    raise ValueError(
        f"unsupported storage URL {url!r}: expected s3://BUCKET or file:///ABSOLUTE/PATH"
    )


def _s3_from_parts(
    parts: urllib.parse.SplitResult, *, endpoint_url: str | None, region: str | None
) -> S3BlobStore:
    bucket = parts.netloc
    if not bucket:
        raise ValueError("S3 storage URL needs a bucket: s3://BUCKET")
    if parts.path not in ("", "/"):
        raise ValueError(f"S3 storage URL must name only a bucket, not a path: {parts.path!r}")
    if parts.fragment:
        raise ValueError("S3 storage URL must not have a fragment")
    options = urllib.parse.parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    post_policy = True
    for name, values in options.items():
        if name != "post_policy":
            raise ValueError(f"unknown S3 storage option {name!r}; only post_policy is known")
        value = values[-1].lower()
        if value in _TRUE:
            post_policy = True
        elif value in _FALSE:
            post_policy = False
        else:
            raise ValueError(f"post_policy must be 0 or 1, not {values[-1]!r}")
    return S3BlobStore(bucket, endpoint_url=endpoint_url, region=region, post_policy=post_policy)


def _local_from_parts(parts: urllib.parse.SplitResult) -> LocalBlobStore:
    if parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"file storage URL must hold an absolute path, as in file:///var/lib/blobs; "
            f"{parts.netloc!r} was read as a host name (relative paths are not allowed)"
        )
    if parts.query or parts.fragment:
        raise ValueError("file storage URL takes no options")
    path = Path(urllib.parse.unquote(parts.path))
    if not path.is_absolute():
        raise ValueError(
            f"file storage URL must hold an absolute path, as in file:///var/lib/blobs; "
            f"got {parts.path!r} (relative paths are not allowed)"
        )
    return LocalBlobStore(path)
