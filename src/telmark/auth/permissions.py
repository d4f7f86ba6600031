"""Roles, actions and the one table that says which role may do what.

Every route and service asks ``principal.can(Action.X)`` (or uses
``require(Action.X)``); nothing checks role names directly, so changing who
may do what is an edit to ``PERMISSIONS`` alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Role(StrEnum):
    PROVINCE_ADMIN = "province_admin"
    MARKETING_PLANNER = "marketing_planner"
    ANALYST = "analyst"
    APPROVER = "approver"
    CITY_MARKETING_MANAGER = "city_marketing_manager"
    OUTLET_MANAGER = "outlet_manager"  # business hall / grid manager
    ACCOUNT_MANAGER = "account_manager"
    SERVICE_AGENT = "service_agent"
    AUDITOR = "auditor"


class Action(StrEnum):
    OVERVIEW_READ = "overview:read"
    ORG_READ = "org:read"
    ORG_MANAGE = "org:manage"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    AUDIT_EXPORT = "audit:export"
    UNMASK = "personal_data:unmask"
    CONSENT_READ = "consent:read"
    CONSENT_MANAGE = "consent:manage"
    DATA_IMPORT = "data:import"
    TOKENS_OWN = "tokens:own"
    ANALYSIS_RUN = "analysis:run"
    CUSTOMER_READ = "customer:read"
    MARKET_MANAGE = "market:manage"
    SEGMENT_MANAGE = "segments:manage"
    CATALOG_MANAGE = "catalog:manage"
    OFFER_MANAGE = "offers:manage"
    POLICY_MANAGE = "policy:manage"
    TARGETING_RUN = "targeting:run"
    CASE_READ = "cases:read"
    CASE_MANAGE = "cases:manage"
    CASE_APPROVE = "cases:approve"
    CASE_ISSUE = "cases:issue"
    CASE_ACKNOWLEDGE = "cases:acknowledge"
    TASK_WORK = "tasks:work"
    TASK_MANAGE = "tasks:manage"
    EXECUTION_READ = "execution:read"
    EXECUTION_RUN = "execution:run"
    EVALUATION_READ = "evaluation:read"
    EVALUATION_RUN = "evaluation:run"
    TRIGGER_MANAGE = "triggers:manage"
    TRIGGER_INGEST = "triggers:ingest"
    MONITOR_MANAGE = "monitor:manage"
    RESPONSE_IMPORT = "responses:import"


_EVERYONE = frozenset({Action.TOKENS_OWN})
_READ_ORG = frozenset({Action.OVERVIEW_READ, Action.ORG_READ})
_ANALYSE = frozenset(
    {
        Action.CONSENT_READ,
        Action.ANALYSIS_RUN,
        Action.CUSTOMER_READ,
        Action.MARKET_MANAGE,
        Action.SEGMENT_MANAGE,
    }
)
_FRONT_LINE = frozenset({Action.CONSENT_READ, Action.UNMASK, Action.CUSTOMER_READ})
_EVALUATE = frozenset({Action.EVALUATION_READ, Action.EVALUATION_RUN})
_JUDGE = frozenset({Action.EVALUATION_READ})

# Reasoning, role by role:
# - province_admin runs the system (users, org, imports, the consent register)
#   but does not see personal data in clear: administering accounts needs no
#   phone numbers, and separating the two keeps one stolen admin login from
#   exposing every subscriber.
# - auditor reads everything that is recorded about who did what, and the
#   users who did it, but changes nothing; reading the org tree lets them place
#   users in context.
# - marketing_planner and analyst work on aggregates and segments: KPIs and
#   the org tree; the consent register is read because targeting must honour
#   it.
# - approver judges cases on the same aggregates.
# - city_marketing_manager runs a city: KPIs, org, consent read, and the users
#   of their city are visible (not manageable) so they can see who is where.
# - outlet_manager and account_manager work with named customers at the front
#   line: they see their unit's KPIs and org, read consent before contacting
#   anyone, and see numbers in clear because they call customers.
# - service_agent serves customers at the counter/call centre: the customer in
#   front of them must be identified (unmask) and their opt-outs recorded
#   (consent manage), but no aggregate KPIs.
# analysis:run (train churn models, refresh the KPI cube and value tiers, write
# score tables) belongs to the analysts and planners who own those models.
# customer:read opens one subscriber's 360 page (masked unless unmask): the
# front line, service agents, planners and analysts; not approvers, who judge
# aggregates. market:manage enters competitor offers and market share.
# segments:manage defines, edits and freezes target segments: planners and
# analysts province-wide, and city marketing managers for their own city,
# because city-level cases target city segments; org scope keeps a city's
# segments (and their counts) inside that city.
# catalog:manage (products and their price versions) and offers:manage (offers,
# the nine tools' incentives, their stock and budgets) belong to the province's
# marketing planners: one catalog and one offer book for the whole province, so
# every city's cases, projections and evaluations price the same truth.
# policy:manage edits the province's contact policy (caps, gap, quiet hours, global
# holdout): province admins only, as it binds every case of every city.
# targeting:run runs targeting (arbitration across every city's cases), reads runs
# and downloads their lists (masked): the province's marketing planners.
# cases:read opens marketing cases (org-scoped: a unit's own cases and the province cases
# issued to it) for everyone who plans, judges, runs or audits them. cases:manage
# drafts, edits, submits and runs cases through their life cycle: province planners,
# and city marketing managers for their city's cases. cases:approve approves or rejects
# at the approver's own level (city or province, from their org scope): approvers.
# cases:issue issues a case down the organisation, localises and re-issues it: planners
# at the province, city marketing managers in their city. cases:acknowledge confirms
# receipt of an issued case: whoever runs the receiving unit (city, outlet, grid) and
# the account managers it is re-issued to.
# tasks:work opens one's own front-line tasks (the unit's and below), reveals the number to
# call and records outcomes: the outlet/grid managers and account managers who make the
# contacts. tasks:manage reads completion reports, reassigns and cancels tasks in one's scope,
# and (at the province) generates tasks from a targeting run: province planners, city
# marketing managers for their city, and outlet managers for their hall and its grids.
# execution:read shows the outbox (counts by state, rows with masked numbers, message
# templates), org-scoped so a city sees its own contacts: province planners and city
# marketing managers. execution:run loads a targeting run into the outbox, edits the
# cases' message templates and dispatches: the province's planners, who run targeting.
# triggers:manage attaches trigger rules to cases (org-scoped like cases:manage) and opens the
# triggers console: province planners and city marketing managers for their city's cases.
# triggers:ingest sends events to the decision engine (HTTP batches): the account of the event
# source (BOSS, the charging system) holds it through a province planner's role; the engine
# arbitrates across every city's cases, so the service refuses it below the province.
# evaluation:read opens the evaluation console and the sample-size / detectable-effect
# calculator (it reads nothing stored): everyone who plans, judges or analyses cases.
# evaluation:run evaluates an uploaded A/B/n experiment file (the caller's own rows, only
# aggregates returned): planners, analysts and city marketing managers, who run experiments.
# monitor:manage acknowledges and resolves execution alerts (with notes), runs the monitor scan
# (at the province) and sets a unit's alert thresholds and e-mail recipients: province planners
# and city marketing managers, who answer for their cases' execution. Reading progress and
# alerts needs only cases:read.
# responses:import brings order events from BOSS into telmark (file import, API batches), runs
# attribution and the demo's response simulation: the province's planners (and the account of
# the BOSS feed through that role); events cover every city, so the service refuses it below
# the province. Reading a case's responses needs only cases:read, org-scoped like the case.
# Everyone may hold personal API tokens for their own account.
PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.PROVINCE_ADMIN: frozenset(Action) - {Action.UNMASK},
    Role.AUDITOR: _READ_ORG
    | {Action.USERS_READ, Action.AUDIT_READ, Action.AUDIT_EXPORT, Action.CASE_READ}
    | _EVERYONE,
    Role.MARKETING_PLANNER: _READ_ORG
    | _ANALYSE
    | {Action.CATALOG_MANAGE, Action.OFFER_MANAGE, Action.TARGETING_RUN}
    | {Action.TASK_MANAGE}
    | {Action.EXECUTION_READ, Action.EXECUTION_RUN}
    | _EVALUATE
    | {Action.TRIGGER_MANAGE, Action.TRIGGER_INGEST}
    | {Action.MONITOR_MANAGE}
    | {Action.RESPONSE_IMPORT}
    | {Action.CASE_READ, Action.CASE_MANAGE, Action.CASE_ISSUE}
    | _EVERYONE,
    Role.ANALYST: _READ_ORG | _ANALYSE | {Action.CASE_READ} | _EVALUATE | _EVERYONE,
    Role.APPROVER: _READ_ORG | {Action.CASE_READ, Action.CASE_APPROVE} | _JUDGE | _EVERYONE,
    Role.CITY_MARKETING_MANAGER: _READ_ORG
    | {
        Action.CONSENT_READ,
        Action.USERS_READ,
        Action.CUSTOMER_READ,
        Action.MARKET_MANAGE,
        Action.SEGMENT_MANAGE,
        Action.CASE_READ,
        Action.CASE_MANAGE,
        Action.CASE_ISSUE,
        Action.CASE_ACKNOWLEDGE,
        Action.TASK_MANAGE,
        Action.EXECUTION_READ,
        Action.EVALUATION_READ,
        Action.EVALUATION_RUN,
        Action.TRIGGER_MANAGE,
        Action.MONITOR_MANAGE,
    }
    | _EVERYONE,
    Role.OUTLET_MANAGER: _READ_ORG
    | _FRONT_LINE
    | {Action.CASE_READ, Action.CASE_ACKNOWLEDGE}
    | {Action.TASK_WORK, Action.TASK_MANAGE}
    | _EVERYONE,
    Role.ACCOUNT_MANAGER: _READ_ORG
    | _FRONT_LINE
    | {Action.CASE_READ, Action.CASE_ACKNOWLEDGE}
    | {Action.TASK_WORK}
    | _EVERYONE,
    Role.SERVICE_AGENT: frozenset(
        {
            Action.ORG_READ,
            Action.CONSENT_READ,
            Action.CONSENT_MANAGE,
            Action.UNMASK,
            Action.CUSTOMER_READ,
        }
    )
    | _EVERYONE,
}


def permissions_of(roles: Iterable[Role]) -> frozenset[Action]:
    """Union of the actions granted by ``roles``."""
    granted: frozenset[Action] = frozenset()
    for role in roles:
        granted |= PERMISSIONS[role]
    return granted
