"""The blob store contract shared by every backend.

The docstrings in this module are the contract: backends implement exactly this behaviour,
and the test suite runs the same tests against each of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

from storage.errors import InvalidKey

MAX_KEY_LENGTH = 512

_KEY_CHARS = re.compile(r"[A-Za-z0-9._/-]*")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid blob key, else raise ``InvalidKey``.

    A valid key is 1 to 512 characters from ``[A-Za-z0-9._/-]``, does not start with ``/``,
    and every ``/``-separated segment is non-empty and neither ``.`` nor ``..``. These rules
    make a key safe to use as a relative filesystem path and give it the same meaning in
    every backend (S3 would treat ``a/./b`` and ``a/b`` as different objects, a filesystem
    would not).
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("blob key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"blob key is longer than {MAX_KEY_LENGTH} characters")
    if not _KEY_CHARS.fullmatch(key):
        raise InvalidKey(f"blob key {key!r} contains characters outside [A-Za-z0-9._/-]")
    if key.startswith("/"):
        raise InvalidKey(f"blob key {key!r} must not start with '/'")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"blob key {key!r} has an empty, '.' or '..' segment")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` unchanged if it can start a valid key, else raise ``InvalidKey``.

    The empty prefix matches every key. A prefix may end in ``/`` or in the middle of a
    segment (``photos/ab`` matches ``photos/abc.jpg``), as in S3 listings.
    """
    if not isinstance(prefix, str):
        raise InvalidKey("key prefix must be a string")
    if not prefix:
        return prefix
    # A prefix is valid when some key starts with it; appending one character to the open
    # last segment turns "photos/" or "photos/." into a key that the key rules can judge.
    validate_key(prefix + "x")
    return prefix


@dataclass(frozen=True)
class BlobInfo:
    """What a store knows about a stored blob."""

    key: str
    size: int
    content_type: str | None


@dataclass(frozen=True)
class UploadInstruction:
    """How a client uploads one blob directly to the store.

    ``method`` is ``"POST"`` for a presigned form POST: send ``multipart/form-data`` to
    ``url`` with every entry of ``fields`` as a form field, followed by the file itself as
    the last field, named ``file``. ``method`` is ``"PUT"`` for a presigned PUT: send the
    body to ``url`` with exactly ``headers``; ``fields`` is then empty.

    ``expires_at`` is timezone-aware UTC; the store refuses the upload after it.
    """

    method: str
    url: str
    headers: dict[str, str]
    fields: dict[str, str]
    expires_at: datetime


@runtime_checkable
class BlobStore(Protocol):
    """A flat namespace of immutable-ish blobs addressed by key.

    Every method that takes a key validates it with ``validate_key`` and raises
    ``InvalidKey`` before touching the store. Failures of the store itself are raised as
    ``StorageUnavailable`` (retry later) or ``StorageError``; no backend-specific exception
    escapes.
    """

    kind: str
    """``"s3"`` or ``"local"``."""

    direct_upload: bool
    """True when clients can upload straight to the store (see ``upload_instruction``)."""

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str,
        max_size: int | None = None,
    ) -> BlobInfo:
        """Store ``data`` under ``key``, replacing any existing blob, and describe it.

        ``data`` is bytes or a readable binary file object; file objects are read in
        chunks, never whole, so memory stays bounded. The write is atomic: readers see the
        old blob or the complete new one, and a failure (including an exception raised by
        the file object) leaves no partial blob behind. An exception raised by the file
        object propagates unchanged.

        When ``max_size`` is given and ``data`` is longer, raises ``TooLarge`` and stores
        nothing.
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """Return a readable binary file object streaming the blob; the caller closes it.

        Raises ``BlobNotFound`` when the key does not exist.
        """
        ...

    def get(self, key: str) -> bytes:
        """Return the whole blob. Raises ``BlobNotFound`` when the key does not exist."""
        ...

    def head(self, key: str) -> BlobInfo | None:
        """Describe the blob, or return None when the key does not exist."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob. Deleting a key that does not exist is not an error."""
        ...

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield every stored key starting with ``prefix``, each once, in no fixed order.

        Meant for garbage collection: results are fetched lazily (page by page for S3), so
        keys stored or deleted meanwhile may or may not appear. The order differs between
        services (SeaweedFS lists directory by directory, AWS S3 lexicographically). Objects
        whose names are not valid keys were not written through this interface and are never
        yielded.
        """
        ...

    def presign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str | None:
        """Return a URL that downloads the blob without credentials for ``expires_in`` s.

        With ``filename``, the download is served as an attachment under that name.
        Returns None when the store cannot sign URLs (local); the application then serves
        the blob through its own signed link. The key's existence is not checked.
        """
        ...

    def upload_instruction(
        self, key: str, *, content_type: str, size: int, expires_in: int
    ) -> UploadInstruction | None:
        """Return how a client uploads exactly ``size`` bytes of ``content_type`` to ``key``.

        The signature binds the key and the content type, and (for POST) the store refuses
        a body whose length differs from ``size``. Returns None when ``direct_upload`` is
        False; the application then accepts the upload itself and calls ``put`` with
        ``max_size``.
        """
        ...

    def ping(self) -> None:
        """Return when the store can serve requests; raise ``StorageUnavailable`` otherwise.

        Checks reachability and that the bucket (or root directory) exists.
        """
        ...
