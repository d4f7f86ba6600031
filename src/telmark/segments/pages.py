"""Console pages of target segments: list, builder, detail with charts, overlap.

The builder is one form (name, owner unit, note and the rule tree, see
``segments.builder``). Every change hx-posts the whole form to
``/segments/builder``, which rebuilds the draft, validates it, counts it on the
caller's scoped warehouse and answers the re-rendered builder with 200 whether
the draft validates or not: its errors sit next to their nodes (HTMX does not
swap error statuses; only a forged action or as-of month is a 422). Saving posts
the same form to ``/segments`` or ``/segments/{id}/edit``; a refused save
re-renders the page with 422. Reading needs overview:read, changing and
freezing snapshots segments:manage, the member sample and snapshot exports
customer:read (masked, as customer 360).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from ibis.backends import BaseBackend
from ibis.common.exceptions import IbisError, TableNotFound
from starlette.responses import Response

from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.errors import DomainError, InvalidInput, NotFound
from telmark.org import service as org_service
from telmark.org.scope import get_visible_unit
from telmark.segments import builder, service, snapshots
from telmark.segments.builder import Draft, FormData
from telmark.segments.compile import resolve_as_of
from telmark.segments.domain import SegmentStatus, SnapshotStatus, check_editable
from telmark.segments.labels import SegmentLabels, describe_rule, translate_error
from telmark.segments.rules import InvalidRule, parse_rule
from telmark.segments.schemas import SegmentClone, SegmentCreate, SegmentRead, SegmentUpdate
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.web.deps import LocaleDep, SettingsDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Manager = Annotated[Principal, require(Action.SEGMENT_MANAGE)]

# Owner units and org-unit choices: the province, cities and districts of the scope.
ORG_CHOICES_DEPTH = 2
TREND_MONTHS = 6
SAMPLE_SIZE = 20
STATUS_LABELS = {SegmentStatus.ACTIVE: N_("Active"), SegmentStatus.ARCHIVED: N_("Archived")}
DONE_MESSAGES = {
    "created": N_("The segment was saved."),
    "updated": N_("A new version of the rule was saved."),
    "cloned": N_("This is a copy of the segment, starting from the same rule."),
    "archived": N_("The segment was archived: it still counts, but cannot be edited."),
    "restored": N_("The segment is active again."),
    "frozen": N_("The member list was frozen."),
}


async def _form_fields(request: Request) -> dict[str, list[str]]:
    """Every field of a posted form, each with all its values (lists repeat a name)."""
    form = await request.form()
    return {name: [str(v) for v in form.getlist(name)] for name in form}


FormDep = Annotated[dict[str, list[str]], Depends(_form_fields)]


def _one(form: FormData, name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


# -- the builder -----------------------------------------------------------------------------


@dataclass
class BuilderState:
    """The builder as rendered: the draft, its errors, the live count and the JSON tab."""

    draft: Draft
    tab: str = "tree"
    json_text: str = ""
    node_errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    valid: bool = False
    count: int | None = None
    base: int | None = None
    as_of: date | None = None
    months: list[date] = field(default_factory=list)
    seconds: float | None = None

    @property
    def share(self) -> float | None:
        return None if self.count is None or not self.base else self.count / self.base


def _draft_of(form: FormData) -> tuple[Draft, str | None, str]:
    """The draft the form holds (tree fields, or the JSON tab it was rendered in)."""
    source = _one(form, "source", "tree")
    text = _one(form, "rule_json")
    if source == "json" and text.strip():
        try:
            return builder.draft_from_text(text), None, text
        except InvalidInput as error:
            return builder.form_to_draft(form), error.message, text
    return builder.form_to_draft(form), None, text


def _parse_as_of(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"as_of: {value!r} is not a date (YYYY-MM-DD)", details=[{"field": "as_of"}]
        ) from None


def _evaluate(
    uow: UnitOfWork,
    con: BaseBackend,
    principal: Principal,
    locale: str,
    state: BuilderState,
    as_of: date | None,
) -> BuilderState:
    """Validate the draft, and count it (if it validates and the user may read counts)."""
    details: list[dict[str, object]] = []
    try:
        rule = parse_rule(state.draft)
    except InvalidRule as error:
        details = error.details
        rule = None
    try:
        state.months = service.trend_months(con, service.MAX_TREND_MONTHS)
        state.as_of = resolve_as_of(con, as_of)
        if rule is not None and principal.can(Action.OVERVIEW_READ):
            started = time.perf_counter()
            members = service.members_of(uow=uow, con=con, rule=rule, as_of=state.as_of)
            state.count = int(members.count().to_pyarrow().as_py())
            state.base = int(con.table("subscribers").count().to_pyarrow().as_py())
            state.seconds = time.perf_counter() - started
    except DomainError as error:
        details += error.details if isinstance(error, InvalidRule) else []
        if not isinstance(error, InvalidRule) or not error.details:
            state.errors.append(error.message)
    except TableNotFound as error:  # the rule needs a table this warehouse was loaded without
        message = gettext_for(
            locale, N_("The warehouse has no %(table)s table, which this rule needs")
        )
        state.errors.append(message % {"table": str(error)})
    except IbisError as error:
        state.errors.append(f"{type(error).__name__}: {error}")
    state.valid = rule is not None and not details
    on_nodes, elsewhere = builder.errors_by_node(details, state.draft)
    state.node_errors = {
        path: [(attr, translate_error(locale, attr, message)) for attr, message in problems]
        for path, problems in on_nodes.items()
    }
    state.errors += [translate_error(locale, "", message) for message in elsewhere]
    return state


def _dynamic_choices(
    uow: UnitOfWork, con: BaseBackend, locale: str
) -> dict[str, list[tuple[str, str]]]:
    """Choices the warehouse and the store know: org units, products, saved segments."""
    units = org_service.list_units(uow=uow, max_depth=ORG_CHOICES_DEPTH)
    products = con.table("products").select("product_id", "name").order_by("product_id")
    rows = products.to_pyarrow().to_pylist()
    segments = service.list_segments(uow=uow, status=SegmentStatus.ACTIVE)
    return {
        "org_ids": [(u.code, _unit_label(u.code, u.name, u.name_en, locale)) for u in units],
        "product_id": [(str(r["product_id"]), f"{r['product_id']} · {r['name']}") for r in rows],
        "segment_id": [(str(s.id), f"{s.name} (#{s.id})") for s in segments],
    }


def _city_names(con: BaseBackend, locale: str) -> dict[str, str]:
    """City names of the warehouse's org tree (the profile's city keys are its org ids)."""
    units = con.table("org_units")
    cities = units.filter(units.kind == "city").select("org_id", "name", "name_en")
    return {
        str(r["org_id"]): str((r["name_en"] or r["name"]) if locale == "en" else r["name"])
        for r in cities.to_pyarrow().to_pylist()
    }


def _unit_label(code: str, name: str, name_en: str | None, locale: str) -> str:
    return f"{(name_en or name) if locale == 'en' else name} ({code})"


def _builder_context(
    uow: UnitOfWork,
    con: BaseBackend,
    locale: str,
    state: BuilderState,
) -> dict[str, Any]:
    labels = SegmentLabels(locale)
    try:
        choices = _dynamic_choices(uow, con, locale)
    except DomainError:
        choices = {}
    return {
        "state": state,
        "tree": labels.node_view(state.draft.get("root"), "root", state.node_errors, choices),
        "kinds": [(k, labels.kind(k)) for k in builder.condition_kinds()],
        "json_text": state.json_text or builder.draft_json(state.draft),
    }


def _builder_page(
    request: Request,
    templates: ConsoleTemplates,
    uow: UnitOfWork,
    con: BaseBackend,
    locale: str,
    *,
    state: BuilderState,
    segment: SegmentRead | None,
    meta: dict[str, str],
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    title = N_("Edit segment") if segment else N_("New segment")
    context = {
        "page_title": gettext_for(locale, title) + (f" · {segment.name}" if segment else ""),
        "segment": segment,
        "meta": meta,
        "form_errors": errors or [],
        "org_choices": org_service.list_units(uow=uow, max_depth=ORG_CHOICES_DEPTH),
        "save_url": f"/segments/{segment.id}/edit" if segment else "/segments",
        **_builder_context(uow, con, locale, state),
    }
    return templates.render(request, "segments/builder.html", context, status_code=status_code)


@router.get("/segments/new", response_class=HTMLResponse, name="segment_new")
def new_page(
    request: Request,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """The builder with an empty AND group."""
    state = _evaluate(uow, con, principal, locale, BuilderState(draft=_empty()), None)
    meta = {"name": "", "description": "", "org_code": principal.org_code or "", "note": ""}
    return _builder_page(request, templates, uow, con, locale, state=state, segment=None, meta=meta)


def _empty() -> Draft:
    return {"version": 1, "root": {"all": []}}


@router.get("/segments/{segment_id}/edit", response_class=HTMLResponse, name="segment_edit")
def edit_page(
    request: Request,
    segment_id: int,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """The builder on the segment's current rule; saving adds a version."""
    segment = service.get_segment(uow=uow, segment_id=segment_id)
    check_editable(segment.status)  # 409 for an archived segment: restore it first
    state = _evaluate(uow, con, principal, locale, BuilderState(draft=dict(segment.rule)), None)
    meta = {"name": segment.name, "description": segment.description, "note": ""}
    return _builder_page(
        request, templates, uow, con, locale, state=state, segment=segment, meta=meta
    )


@router.post("/segments/builder", response_class=HTMLResponse, name="segment_builder")
def builder_partial(
    request: Request,
    form: FormDep,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """Rebuild the draft from the form (after a button, if one was pressed) and re-render."""
    draft, problem, text = _draft_of(form)
    action = _one(form, "action")
    if action:
        draft = builder.apply_action(draft, action, form)
    tab = "json" if _one(form, "tab") == "json" else "tree"
    state = BuilderState(draft=draft, tab=tab, json_text=text if problem else "")
    if problem:
        state.errors.append(translate_error(locale, "", problem))
    state = _evaluate(uow, con, principal, locale, state, _parse_as_of(_one(form, "as_of")))
    context = _builder_context(uow, con, locale, state)
    response = templates.render(request, "segments/_builder.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _meta(form: FormData) -> dict[str, str]:
    return {k: _one(form, k) for k in ("name", "description", "org_code", "note")}


def _refused_save(
    request: Request,
    templates: ConsoleTemplates,
    uow: UnitOfWork,
    con: BaseBackend,
    principal: Principal,
    locale: str,
    form: FormData,
    error: DomainError,
    segment: SegmentRead | None,
) -> Response:
    """Roll back and show the builder again with the problem, at its node where it has one."""
    uow.rollback()
    draft, problem, text = _draft_of(form)
    tab = "json" if _one(form, "tab") == "json" else "tree"
    state = BuilderState(draft=draft, tab=tab, json_text=text if problem else "")
    state = _evaluate(uow, con, principal, locale, state, _parse_as_of(_one(form, "as_of")))
    errors = [] if isinstance(error, InvalidRule) else [translate_error(locale, "", error.message)]
    if isinstance(error, InvalidRule) and not state.node_errors and not state.errors:
        errors.append(translate_error(locale, "", error.message))
    errors += [] if problem is None else [translate_error(locale, "", problem)]
    return _builder_page(
        request, templates, uow, con, locale,
        state=state, segment=segment, meta=_meta(form), errors=errors,
        status_code=error.status_code if error.status_code != 400 else 422,
    )  # fmt: skip


@router.post("/segments", response_class=HTMLResponse, name="segment_create")
def create(
    request: Request,
    form: FormDep,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """Save a new segment from the builder form."""
    meta = _meta(form)
    try:
        draft, problem, _ = _draft_of(form)
        if problem:
            raise InvalidInput(problem, details=[{"field": "rule_json"}])
        created = service.create_segment(
            uow=uow,
            spec=SegmentCreate(
                name=meta["name"],
                description=meta["description"],
                org_code=meta["org_code"] or None,
                rule=draft,
                note=meta["note"],
            ),
        )
    except DomainError as error:
        return _refused_save(
            request, templates, uow, con, principal, locale, form, error, segment=None
        )
    return _to_detail(created.id, "created")


@router.post("/segments/{segment_id}/edit", response_class=HTMLResponse, name="segment_update")
def update(
    request: Request,
    segment_id: int,
    form: FormDep,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """Save the builder's rule as the segment's next version."""
    segment = service.get_segment(uow=uow, segment_id=segment_id)  # 404 outside the scope
    meta = _meta(form)
    try:
        draft, problem, _ = _draft_of(form)
        if problem:
            raise InvalidInput(problem, details=[{"field": "rule_json"}])
        service.update_segment(
            uow=uow,
            segment_id=segment_id,
            spec=SegmentUpdate(
                rule=draft, note=meta["note"], name=meta["name"], description=meta["description"]
            ),
        )
    except DomainError as error:
        return _refused_save(
            request, templates, uow, con, principal, locale, form, error, segment=segment
        )
    return _to_detail(segment_id, "updated")


def _to_detail(segment_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/segments/{segment_id}?done={done}", status_code=303)


# -- list, clone, archive ---------------------------------------------------------------------


def _owner_names(uow: UnitOfWork, codes: set[str], locale: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for code in codes:
        try:
            unit = get_visible_unit(uow, code)
        except NotFound:
            names[code] = code
        else:
            names[code] = (unit.name_en or unit.name) if locale == "en" else unit.name
    return names


@router.get("/segments", response_class=HTMLResponse, name="segments")
def list_page(
    request: Request,
    principal: Reader,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    status: Annotated[str, Query()] = "",
) -> Response:
    """Segments of the caller's scope, newest change first, optionally by status."""
    chosen = SegmentStatus(status) if status in set(SegmentStatus) else None
    segments = service.list_segments(uow=uow, status=chosen)
    authors = {
        s.id: service.list_versions(uow=uow, segment_id=s.id)[-1].created_by for s in segments
    }
    context = {
        "page_title": gettext_for(locale, N_("Segments")),
        "segments": segments,
        "authors": authors,
        "owners": _owner_names(uow, {s.org_code for s in segments}, locale),
        "status": chosen.value if chosen else "",
        "status_labels": STATUS_LABELS,
        "can_manage": principal.can(Action.SEGMENT_MANAGE),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
    }
    return templates.render(request, "segments/list.html", context)


@router.post("/segments/{segment_id}/clone", name="segment_clone")
def clone(segment_id: int, principal: Manager, uow: UowDep) -> Response:  # noqa: ARG001
    """Copy the segment (current rule) and open the copy's builder."""
    copy = service.clone_segment(uow=uow, segment_id=segment_id, spec=SegmentClone())
    return RedirectResponse(f"/segments/{copy.id}?done=cloned", status_code=303)


@router.post("/segments/{segment_id}/archive", name="segment_archive")
def archive(segment_id: int, principal: Manager, uow: UowDep) -> Response:  # noqa: ARG001
    """Archive: closed for edits, still readable and countable."""
    service.set_status(uow=uow, segment_id=segment_id, status=SegmentStatus.ARCHIVED)
    return _to_detail(segment_id, "archived")


@router.post("/segments/{segment_id}/restore", name="segment_restore")
def restore(segment_id: int, principal: Manager, uow: UowDep) -> Response:  # noqa: ARG001
    """Make an archived segment active again."""
    service.set_status(uow=uow, segment_id=segment_id, status=SegmentStatus.ACTIVE)
    return _to_detail(segment_id, "restored")


# -- detail ----------------------------------------------------------------------------------


@router.get("/segments/overlap", response_class=HTMLResponse, name="segment_overlap")
def overlap_page(
    request: Request,
    principal: Reader,  # noqa: ARG001 - the dependency checks the right
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    ids: Annotated[list[int] | None, Query()] = None,
) -> Response:
    """Pairwise overlap (intersections and Jaccard) of 2–8 chosen segments."""
    chosen = list(dict.fromkeys(ids or []))
    context: dict[str, Any] = {
        "page_title": gettext_for(locale, N_("Segment overlap")),
        "segments": service.list_segments(uow=uow),
        "chosen": chosen,
        "matrix": None,
        "errors": [],
        "max_overlap": service.MAX_OVERLAP,
    }
    status_code = 200
    if chosen:
        try:
            matrix = service.overlap_segments(uow=uow, con=con, segment_ids=chosen)
        except DomainError as error:
            context["errors"] = [translate_error(locale, "", error.message)]
            status_code = error.status_code
        else:
            context["matrix"] = matrix
            context["chart_data"] = {
                "echartsLocale": "EN" if locale == "en" else "ZH",
                "names": matrix.names,
                "sizes": matrix.sizes,
                "intersections": matrix.intersections,
                "jaccard": matrix.jaccard,
                "labels": {
                    "members": gettext_for(locale, N_("Members in both")),
                    "jaccard": gettext_for(locale, N_("Jaccard index")),
                },
            }
    return templates.render(request, "segments/overlap.html", context, status_code=status_code)


@router.get("/segments/{segment_id}", response_class=HTMLResponse, name="segment")
def detail_page(
    request: Request,
    segment_id: int,
    principal: Reader,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The segment: rule in words, versions, and (loaded after the page) count and charts."""
    segment = service.get_segment(uow=uow, segment_id=segment_id)
    versions = service.list_versions(uow=uow, segment_id=segment_id)
    shown = next((v for v in versions if v.version == (version or segment.current_version)), None)
    if shown is None:
        raise NotFound(f"segment {segment_id} has no version {version}")
    labels = SegmentLabels(locale)
    context = {
        "page_title": f"{gettext_for(locale, N_('Segment'))} · {segment.name}",
        "segment": segment,
        "versions": versions,
        "shown": shown,
        "rule_words": describe_rule(shown.rule.get("root"), labels),
        "rule_json": builder.draft_json(shown.rule),
        "owner": _owner_names(uow, {segment.org_code}, locale)[segment.org_code],
        "status_labels": STATUS_LABELS,
        "can_manage": principal.can(Action.SEGMENT_MANAGE),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "insights_url": f"/segments/{segment_id}/insights?" + urlencode({"version": shown.version}),
        **_snapshot_context(uow, principal, segment_id, shown.version),
    }
    return templates.render(request, "segments/detail.html", context)


@router.get("/segments/{segment_id}/insights", response_class=HTMLResponse)
def insights(
    request: Request,
    segment_id: int,
    principal: Reader,
    uow: UowDep,
    con: ScopedWarehouseDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Count, size trend, profile against the base and a masked sample (a page fragment)."""
    context: dict[str, Any] = {"segment_id": segment_id, "version": version}
    service.rule_of(uow, segment_id, version)  # 404 before any warehouse work
    current, _ = service.rule_of(uow, segment_id)
    try:
        profile = service.profile_segment(uow=uow, con=con, segment_id=segment_id, version=version)
        trend = service.size_trend_segment(
            uow=uow, con=con, segment_id=segment_id, version=version, months=TREND_MONTHS
        )
        sample = None
        if principal.can(Action.CUSTOMER_READ):
            sample = service.sample_segment(uow=uow, con=con, segment_id=segment_id, n=SAMPLE_SIZE)
    except DomainError as error:
        context["problem"] = translate_error(locale, "", error.message)
    else:
        labels = SegmentLabels(locale)
        month_label = templates.environment(locale).filters["month_label"]
        context.update(
            profile=profile,
            trend=trend,
            sample=sample,
            sample_is_current=version in (None, current),
            chart_data=labels.insight_charts(
                profile,
                trend,
                cities=_city_names(con, locale),
                months=[month_label(p.month) for p in trend.points],
            ),
            value_label=labels.subscriber_value,
            as_of_label=month_label(profile.as_of),
        )
    response = templates.render(request, "segments/_insights.html", context)
    response.headers["Cache-Control"] = "no-store"  # the sample holds (masked) personal rows
    return response


# -- snapshots -------------------------------------------------------------------------------

SNAPSHOT_STATUS_LABELS = {
    SnapshotStatus.BUILDING: N_("Building"),
    SnapshotStatus.READY: N_("Ready"),
    SnapshotStatus.FAILED: N_("Failed"),
}


def _snapshot_context(
    uow: UnitOfWork, principal: Principal, segment_id: int, version: int
) -> dict[str, Any]:
    return {
        "snapshots": snapshots.list_snapshots(uow=uow, segment_id=segment_id),
        "snapshot_version": version,
        "snapshot_labels": SNAPSHOT_STATUS_LABELS,
        # A fresh key per rendering: a double click freezes one list, not two.
        "snapshot_key": uuid.uuid4().hex,
        "can_freeze": principal.can(Action.SEGMENT_MANAGE),
        "can_export": principal.can(Action.CUSTOMER_READ),
        "segment_id": segment_id,
    }


@router.post("/segments/{segment_id}/snapshots", response_class=HTMLResponse)
def freeze(
    request: Request,
    segment_id: int,
    form: FormDep,
    principal: Manager,
    uow: UowDep,
    con: ScopedWarehouseDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """Freeze the members of a rule version (the snapshot list re-rendered, for HTMX)."""
    service.get_segment(uow=uow, segment_id=segment_id)  # 404 outside the scope
    version = _one(form, "version")
    problem = None
    try:
        snapshots.take_snapshot(
            uow=uow,
            con=con,
            directory=settings.resolved_snapshot_dir,
            segment_id=segment_id,
            version=int(version) if version.isdigit() else None,
            idempotency_key=_one(form, "idempotency_key") or None,
        )
    except DomainError as error:
        uow.rollback()
        problem = translate_error(locale, "", error.message)
    if request.headers.get("HX-Request") != "true":
        return _to_detail(segment_id, "frozen")
    shown = int(version) if version.isdigit() else 1
    context = {**_snapshot_context(uow, principal, segment_id, shown), "snapshot_problem": problem}
    return templates.render(request, "segments/_snapshots.html", context)
