"""Field work settings read from the environment."""

from __future__ import annotations

import pytest

from fieldapi.config import Settings


def settings(tmp_path, **env) -> Settings:
    return Settings.from_env({"FIELDAPI_DATA_DIR": str(tmp_path), **env})


def test_deadlines_default_to_a_day_a_week_a_month(tmp_path):
    got = settings(tmp_path)
    assert [got.hazard_deadline(s) for s in ("critical", "major", "minor")] == [24, 168, 720]


def test_a_deadline_can_be_changed_alone(tmp_path):
    got = settings(tmp_path, FIELDAPI_HAZARD_DEADLINE_HOURS="critical=12, minor=240")
    assert [got.hazard_deadline(s) for s in ("critical", "major", "minor")] == [12, 168, 240]


@pytest.mark.parametrize("raw", ["fatal=3", "critical=soon", "critical=0", "critical"])
def test_a_bad_deadline_stops_the_start(tmp_path, raw):
    with pytest.raises(ValueError, match="FIELDAPI_HAZARD_DEADLINE_HOURS"):
        settings(tmp_path, FIELDAPI_HAZARD_DEADLINE_HOURS=raw)
