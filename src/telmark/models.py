"""Every ORM model, imported in one place so Alembic and tests see the full metadata."""

from telmark.analysis.churn.models import ChurnModel
from telmark.audit.models import AuditEntry
from telmark.auth.models import ApiToken, LoginSession, User, UserRole
from telmark.cases.models import Case, CaseAlert, CaseIssue, CaseTransition
from telmark.catalog.models import BundleComponent, Product, ProductVersion
from telmark.consent.models import ConsentEntry, ConsentImport
from telmark.db import Base
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
    "Offer",
    "OfferPool",
    "OfferVersion",
    "OrgUnit",
    "PoolEntry",
    "Product",
    "ProductVersion",
    "Redemption",
    "Segment",
    "SegmentSnapshot",
    "SegmentVersion",
    "Staff",
    "TargetingRun",
    "User",
    "UserRole",
]
