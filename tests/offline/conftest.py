"""Offline exchanges are tried on the same field work as the rest: the ``field`` fixture."""

from tests.fieldwork.conftest import field

__all__ = ["field"]
