"""Every model, imported once so the metadata is complete (migrations, tests)."""

from fieldapi.areas.models import Area
from fieldapi.audit.models import AuditEvent, AuditHead
from fieldapi.auth.models import AuthSession, RateCounter
from fieldapi.buildings.models import Building, BuildingChange, Equipment, Resident, Shop, Unit
from fieldapi.checklists.models import ChecklistItem, ChecklistTemplate
from fieldapi.core.db import Base
from fieldapi.core.idempotency import IdempotencyKey
from fieldapi.fieldwork.models import Hazard, Inspection, InspectionResult, PhotoWait, Rectification
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.review.models import RoutingRule, Submission, SubmissionEvent
from fieldapi.sync.models import SyncChange, SyncScope
from fieldapi.users.models import User, UserArea, UserBuilding

__all__ = [
    "Area",
    "AuditEvent",
    "AuditHead",
    "AuthSession",
    "Base",
    "Building",
    "BuildingChange",
    "ChecklistItem",
    "ChecklistTemplate",
    "Equipment",
    "Hazard",
    "IdempotencyKey",
    "Inspection",
    "InspectionResult",
    "Photo",
    "PhotoUse",
    "PhotoWait",
    "RateCounter",
    "Rectification",
    "Resident",
    "RoutingRule",
    "Shop",
    "Submission",
    "SubmissionEvent",
    "SyncChange",
    "SyncScope",
    "Unit",
    "User",
    "UserArea",
    "UserBuilding",
]
