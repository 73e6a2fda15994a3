"""The routing table a new install starts with (the first migration of the review chain
writes the same rows). Admins change it through ``PUT /api/v1/routing-rules``."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.review.models import REVIEW_STAGES, RoutingRule

FULL = list(REVIEW_STAGES)

DEFAULT_RULES = (
    {
        "subject_type": "inspection",
        "inspection_kind": "self_check",
        "has_failed_items": False,
        "severities": None,
        "stages": ["grid_review"],
        "description": "A self-check with nothing failed closes at grid review.",
    },
    {
        "subject_type": "inspection",
        "inspection_kind": "patrol",
        "has_failed_items": False,
        "severities": None,
        "stages": ["grid_review"],
        "description": "A patrol with nothing failed closes at grid review.",
    },
    {
        "subject_type": "inspection",
        "inspection_kind": "verification",
        "has_failed_items": False,
        "severities": None,
        "stages": [],
        "description": "A reviewer's verification that found nothing is recorded and closed.",
    },
    {
        "subject_type": None,
        "inspection_kind": None,
        "has_failed_items": None,
        "severities": ["critical"],
        "stages": FULL,
        "description": "Anything critical goes the whole way.",
    },
    {
        "subject_type": "rectification",
        "inspection_kind": None,
        "has_failed_items": None,
        "severities": ["minor"],
        "stages": ["grid_review", "office_review"],
        "description": "The fire protection office signs off minor rectifications.",
    },
    {
        "subject_type": "hazard",
        "inspection_kind": None,
        "has_failed_items": None,
        "severities": ["minor"],
        "stages": ["grid_review"],
        "description": "A minor hazard report is confirmed by grid staff.",
    },
    {
        "subject_type": None,
        "inspection_kind": None,
        "has_failed_items": None,
        "severities": None,
        "stages": FULL,
        "description": "Everything else goes the whole way.",
    },
)


def install_defaults(db: Session) -> list[RoutingRule]:
    """Write the default table when there is none; an existing table is left as it is."""
    if db.scalar(select(RoutingRule.id).limit(1)) is not None:
        return []
    table = [
        RoutingRule(id=uuid.uuid4(), position=position, **rule)
        for position, rule in enumerate(DEFAULT_RULES, start=1)
    ]
    db.add_all(table)
    db.flush()
    return table
