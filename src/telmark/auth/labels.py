"""Display names of roles and actions (English msgids; templates translate them)."""

from __future__ import annotations

from collections.abc import Mapping

from telmark.auth.permissions import Action, Role
from telmark.translation import N_

ROLE_LABELS: Mapping[Role, str] = {
    Role.PROVINCE_ADMIN: N_("Province administrator"),
    Role.MARKETING_PLANNER: N_("Marketing planner"),
    Role.ANALYST: N_("Business analyst"),
    Role.APPROVER: N_("Approver"),
    Role.CITY_MARKETING_MANAGER: N_("City marketing manager"),
    Role.OUTLET_MANAGER: N_("Business hall / grid manager"),
    Role.ACCOUNT_MANAGER: N_("Account manager"),
    Role.SERVICE_AGENT: N_("Service agent"),
    Role.AUDITOR: N_("Auditor"),
}

ACTION_LABELS: Mapping[Action, str] = {
    Action.OVERVIEW_READ: N_("View the KPI overview"),
    Action.ORG_READ: N_("View the organisation"),
    Action.ORG_MANAGE: N_("Manage the organisation"),
    Action.USERS_READ: N_("View users"),
    Action.USERS_MANAGE: N_("Manage users and roles"),
    Action.AUDIT_READ: N_("View the audit trail"),
    Action.AUDIT_EXPORT: N_("Export the audit trail"),
    Action.UNMASK: N_("See personal data unmasked"),
    Action.CONSENT_READ: N_("View the consent register"),
    Action.CONSENT_MANAGE: N_("Edit the consent register"),
    Action.DATA_IMPORT: N_("Import data"),
    Action.TOKENS_OWN: N_("Hold personal API tokens"),
    Action.ANALYSIS_RUN: N_("Train models and refresh analyses"),
    Action.CUSTOMER_READ: N_("Open customer 360 pages"),
    Action.MARKET_MANAGE: N_("Enter competitor and market data"),
    Action.SEGMENT_MANAGE: N_("Define and freeze target segments"),
    Action.CATALOG_MANAGE: N_("Edit products and their prices"),
    Action.OFFER_MANAGE: N_("Design offers, incentives, stock and budgets"),
    Action.POLICY_MANAGE: N_("Edit the contact policy"),
    Action.TARGETING_RUN: N_("Run targeting and download contact lists"),
    Action.CASE_READ: N_("View marketing cases"),
    Action.CASE_MANAGE: N_("Draft, submit and run marketing cases"),
    Action.CASE_APPROVE: N_("Approve or reject marketing cases at one's level"),
    Action.CASE_ISSUE: N_("Issue marketing cases down the organisation"),
    Action.CASE_ACKNOWLEDGE: N_("Acknowledge issued marketing cases"),
    Action.TASK_WORK: N_("Work one's front-line tasks and record outcomes"),
    Action.TASK_MANAGE: N_("Follow up front-line tasks: completion, reassignment"),
    Action.EXECUTION_READ: N_("See the outbox: contacts planned, sent and delivered"),
    Action.EXECUTION_RUN: N_("Load contact lists into the outbox, edit message templates"),
    Action.EVALUATION_READ: N_("See evaluations and use the sample-size calculator"),
    Action.EVALUATION_RUN: N_("Evaluate A/B/n experiment files"),
    Action.TRIGGER_MANAGE: N_("Attach real-time trigger rules to marketing cases"),
    Action.TRIGGER_INGEST: N_("Send events to the real-time trigger engine"),
    Action.RESPONSE_IMPORT: N_("Import order events and attribute responses to contacts"),
    Action.MONITOR_MANAGE: N_("Acknowledge and resolve execution alerts; set alert rules"),
}


def role_label(role: str) -> str:
    """The msgid naming ``role`` (the raw value for an unknown one)."""
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role


def action_label(action: str) -> str:
    """The msgid describing ``action`` (the raw value for an unknown one)."""
    try:
        return ACTION_LABELS[Action(action)]
    except ValueError:
        return action
