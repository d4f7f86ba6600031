"""Console pages of marketing cases: the list, the wizard (from a template or blank), editing a
draft, a case's page (plan, projection with its charts, life-cycle buttons, timeline, targeting),
and the approver's inbox. Issuing down the organisation and alerts: ``cases.pages_issue``.

Rights are the JSON API's (``cases.api``): cases:read opens the pages (org-scoped by the
service: a unit's own cases and those issued to it), cases:manage drafts and runs a case,
cases:approve decides in the inbox, targeting:run (at the province) runs or simulates
targeting. The page shows only the buttons the user may press in the case's current status
(``domain.actions_from``), and every button posts the version it was drawn from, so a case
changed meanwhile answers with a conflict instead of acting on what the user did not see.

A refused form is never saved: the page comes back with each problem beside its field (keyed
by the plan's field paths, see ``cases.forms``) and status 422 (409 for a stale version).
"""

from __future__ import annotations

from fastapi import APIRouter

from telmark.cases.pages import case, issues, plans

router = APIRouter(include_in_schema=False)
# Paths with one fixed segment (/cases/inbox, /cases/new, /cases/alerts) before /cases/{case_id}.
router.include_router(plans.router)
router.include_router(issues.router)
router.include_router(case.router)
