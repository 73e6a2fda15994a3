"""Routing: the rule table that names the stages a submission passes, and the admin's
replacement of the whole table.

The first rule whose conditions match a submission's facts names its route; the whole chain
when none matches.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.core.etag import make_etag, require_match
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import SEVERITY_RANK
from fieldapi.review.models import REVIEW_STAGES, RoutingRule

FULL_ROUTE = list(REVIEW_STAGES)


@dataclass(frozen=True)
class Facts:
    """What routing looks at: what is submitted, and how serious it is."""

    subject_type: str
    inspection_kind: str | None = None
    failed_items: int = 0
    severity: str | None = None  # the most serious severity involved, if any


def rules(db: Session) -> list[RoutingRule]:
    return list(db.scalars(select(RoutingRule).order_by(RoutingRule.position)))


def _matches(rule: RoutingRule, facts: Facts) -> bool:
    if rule.subject_type is not None and rule.subject_type != facts.subject_type:
        return False
    if rule.inspection_kind is not None and rule.inspection_kind != facts.inspection_kind:
        return False
    if rule.has_failed_items is not None and rule.has_failed_items != (facts.failed_items > 0):
        return False
    return rule.severities is None or facts.severity in rule.severities


def choose_route(db: Session, facts: Facts) -> tuple[list[str], RoutingRule | None]:
    """The stages of the first matching rule; the whole chain when no rule matches."""
    for rule in rules(db):
        if _matches(rule, facts):
            return list(rule.stages), rule
    return list(FULL_ROUTE), None


def worst(severities: list[str]) -> str | None:
    return max(severities, key=SEVERITY_RANK.__getitem__) if severities else None


# ---------------------------------------------------------------- the table as the API shows it

RULE_FIELDS = (
    "subject_type",
    "inspection_kind",
    "has_failed_items",
    "severities",
    "stages",
    "description",
)


def present_rule(rule: RoutingRule) -> dict[str, Any]:
    return {"id": rule.id, "position": rule.position, **{f: getattr(rule, f) for f in RULE_FIELDS}}


def rules_etag(table: list[RoutingRule]) -> str:
    content = [[str(r.id), *(getattr(r, f) for f in RULE_FIELDS)] for r in table]
    return make_etag("routing_rules", audit.digest_of(content), len(table))


def replace_rules(
    *, db: Session, actor: Actor, data: list[dict[str, Any]], if_match: str | None
) -> list[RoutingRule]:
    """Replace the whole table at once, in the order given (If-Match on the table)."""
    current = rules(db)
    require_match(if_match, rules_etag(current))
    for rule in current:
        db.delete(rule)
    db.flush()
    table = [
        RoutingRule(id=uuid.uuid4(), position=position, **{f: row.get(f) for f in RULE_FIELDS})
        for position, row in enumerate(data, start=1)
    ]
    for rule in table:
        rule.description = rule.description or ""
        db.add(rule)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action="routing.update",
        object_type="routing_rules",
        object_id="table",
        details={"rules": [present_rule(r) | {"id": str(r.id)} for r in table]},
    )
    return table
