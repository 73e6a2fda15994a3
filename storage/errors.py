"""Errors raised by blob stores.

Callers only ever see these types; backend-specific exceptions (botocore, OSError) are
translated at the store boundary so the application can map them to HTTP responses
without knowing which backend is configured.
"""


class StorageError(Exception):
    """Base class for every failure reported by a blob store."""


class BlobNotFound(StorageError):
    """The requested key does not exist."""


class StorageUnavailable(StorageError):
    """The store cannot serve requests right now.

    Covers network errors, timeouts, server-side (5xx) errors, an unreachable endpoint and a
    missing bucket. The application answers these with 503 and a Retry-After header.
    """


class InvalidKey(StorageError, ValueError):
    """The key does not follow the key rules (see ``storage.interfaces.validate_key``)."""


class TooLarge(StorageError):
    """A streamed upload exceeded the ``max_size`` given to ``put``; nothing was stored."""
