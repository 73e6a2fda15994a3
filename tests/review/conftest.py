"""The review chain under pressure: the field work helpers, shared."""

from tests.fieldwork.conftest import field  # noqa: F401
