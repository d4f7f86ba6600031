"""Every ORM model, imported in one place so Alembic and tests see the full metadata."""

from telmark.analysis.churn.models import ChurnModel
from telmark.analysis.uplift.models import UpliftModel
from telmark.audit.models import AuditEntry
from telmark.auth.models import ApiToken, LoginSession, User, UserRole
from telmark.cases.models import Case, CaseAlert, CaseIssue, CaseTransition
from telmark.catalog.models import BundleComponent, Product, ProductVersion
from telmark.consent.models import ConsentEntry, ConsentImport
from telmark.db import Base
from telmark.evaluation.cases.models import CaseEvaluation
from telmark.execution.models import OutboxAttempt, OutboxMessage, OutboxProviderId, OutboxTemplate
from telmark.execution.monitor.models import MonitorSetting
from telmark.execution.responses.models import (
    ResponseAttribution,
    ResponseControlLoad,
    ResponseEvent,
    ResponseExposure,
    ResponseImport,
)
from telmark.execution.tasks.models import Task, TaskEvent
from telmark.execution.triggers.models import TriggerDecision, TriggerRule
from telmark.market.models import CompetitorOffer, MarketShare
from telmark.offers.models import Draw, Offer, OfferPool, OfferVersion, PoolEntry, Redemption
from telmark.org.models import OrgUnit, Staff
from telmark.segments.models import Segment, SegmentSnapshot, SegmentVersion
from telmark.targeting.models import ContactPolicyVersion, TargetingRun

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "BundleComponent",
    "Case",
    "CaseAlert",
    "CaseEvaluation",
    "CaseIssue",
    "CaseTransition",
    "CompetitorOffer",
    "ChurnModel",
    "ConsentEntry",
    "ContactPolicyVersion",
    "ConsentImport",
    "Draw",
    "LoginSession",
    "MarketShare",
    "MonitorSetting",
    "Offer",
    "OfferPool",
    "OfferVersion",
    "OrgUnit",
    "OutboxAttempt",
    "OutboxMessage",
    "OutboxProviderId",
    "OutboxTemplate",
    "PoolEntry",
    "Product",
    "ProductVersion",
    "Redemption",
    "ResponseAttribution",
    "ResponseControlLoad",
    "ResponseEvent",
    "ResponseExposure",
    "ResponseImport",
    "Segment",
    "SegmentSnapshot",
    "SegmentVersion",
    "Staff",
    "TargetingRun",
    "Task",
    "TaskEvent",
    "TriggerDecision",
    "TriggerRule",
    "UpliftModel",
    "User",
    "UserRole",
]
