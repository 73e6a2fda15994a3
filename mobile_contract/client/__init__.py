"""The reference phone client: how the API is meant to be used from a phone.

- ``phone.Phone``: the client as a whole; start reading there.
- ``store``: the phone's SQLite file (outbox, synced objects, session), kept across restarts.
- ``outbox``: sending queued writes in order, each with its Idempotency-Key; photo uploads.
- ``api``: one request, retried on "not now"; sign-in, refresh, sign-out.
- ``backoff``: what is worth retrying, and exponential backoff with full jitter.
- ``sync``: the local copy of the user's area, from a stored cursor.
- ``cli``: ``python -m mobile_contract.client --help``.
"""

from mobile_contract.client.api import Api, ClientError, Refused, SignedOut, Unreachable
from mobile_contract.client.backoff import Backoff, parse_retry_after, should_retry
from mobile_contract.client.phone import Phone
from mobile_contract.client.store import Store, Write

__all__ = [
    "Api",
    "Backoff",
    "ClientError",
    "Phone",
    "Refused",
    "SignedOut",
    "Store",
    "Unreachable",
    "Write",
    "parse_retry_after",
    "should_retry",
]
