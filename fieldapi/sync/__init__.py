"""Offline sync: what changed in the caller's scope since a cursor, in pages.

Importing the package installs the change capture (``capture``) on every session.
"""

from fieldapi.sync import capture  # noqa: F401
