"""The configurable rules of field work: rectification deadlines per severity, how long a
review stage may take, and the limits photos are judged by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from fieldapi.photos.flags import Limits


@dataclass(frozen=True)
class Policy:
    """The configurable rules of field work."""

    deadline_hours: dict[str, int]
    stage_hours: int
    photo_limits: Limits

    @classmethod
    def from_settings(cls, settings) -> Policy:
        return cls(
            deadline_hours=dict(settings.hazard_deadline_hours),
            stage_hours=settings.review_stage_hours,
            photo_limits=Limits.from_settings(settings),
        )

    @classmethod
    def current(cls) -> Policy:
        return cls.from_settings(current_app.extensions["fieldapi.settings"])

    def due_at(self, severity: str, since: datetime) -> datetime:
        return since + timedelta(hours=self.deadline_hours[severity])
