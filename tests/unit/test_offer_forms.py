"""The offer editor's form: every tool field has a label and a unit, and what the editor shows
of a stored offer reads back as the same document (yuan ↔ fen, % ↔ bp and ppm, × ↔ bp)."""

from __future__ import annotations

from datetime import date

import pytest

from telmark.offers import forms
from telmark.offers.schemas import parse_offer
from telmark.offers.seed import examples


@pytest.mark.parametrize("kind", sorted(forms.TOOL_MODELS))
def test_every_tool_field_has_a_label(kind: str) -> None:
    specs = forms.fields_of(forms.TOOL_MODELS[kind])
    assert specs
    for spec in specs:
        assert spec.label
        assert all(child.label for child in spec.children)


def test_the_units_follow_the_field_names() -> None:
    units = {s.name: s.unit for s in forms.fields_of(forms.TOOL_MODELS["lottery"])}
    assert units == {"prizes": forms.Unit.ROWS, "budget_fen": forms.Unit.YUAN}
    prize = {s.name: s.unit for s in forms.fields_of(forms.TOOL_MODELS["lottery"])[0].children}
    assert prize["odds_ppm"] is forms.Unit.ODDS
    points = {s.name: s.unit for s in forms.fields_of(forms.TOOL_MODELS["points"])}
    assert points["multiplier_bp"] is forms.Unit.FACTOR
    assert points["fen_per_100_points"] is forms.Unit.YUAN


@pytest.mark.parametrize("spec", examples(date(2026, 11, 26)), ids=lambda s: s.code)
def test_an_offer_reads_back_through_the_editor(spec: object) -> None:
    original = parse_offer(spec)
    tools = [t.model_dump(mode="json") for t in original.tools]
    values = {
        "code": original.code,
        "name": original.name,
        "description": original.description,
        "action": str(original.action),
        "product_codes": ", ".join(original.product_codes),
        "valid_from": original.valid_from.isoformat(),
        "valid_to": original.valid_to.isoformat() if original.valid_to else "",
        "eligibility": "",
        "excludes": " ".join(original.excludes),
    }
    for key, text in forms.form_values(
        forms.economics_fields(), original.economics.model_dump()
    ).items():
        values[f"economics.{key}"] = text
    form = dict(values)
    for i, tool in enumerate(tools):
        form[f"t{i}.tool"] = tool["tool"]
        specs = forms.fields_of(forms.TOOL_MODELS[tool["tool"]])
        for key, text in forms.form_values(specs, tool).items():
            form[f"t{i}.{key}"] = text
    state = forms.read_form(form)
    document = forms.offer_document(state)
    assert state.problems == {}
    again = parse_offer(document)
    assert again.model_dump(exclude={"eligibility"}) == original.model_dump(exclude={"eligibility"})


def test_typing_mistakes_are_named_by_their_document_path() -> None:
    form = {
        "t0.tool": "lottery",
        "t0.budget_fen": "12.345",
        "t0.prizes.0.code": "",
        "t0.prizes.1.code": "phone",
        "t0.prizes.1.odds_ppm": "abc",
    }
    state = forms.read_form(form)
    forms.offer_document(state)
    # The blank first row is dropped, so the typed row is prizes[0].
    assert state.problems == {
        "tools[0].budget_fen": ["too many decimal places"],
        "tools[0].prizes[0].odds_ppm": ["not a number"],
    }
    by_field, general = forms.place_problems(
        [("product_codes[1]", "no product X"), ("offer", "valid_to: before valid_from")],
        forms.all_slots(state),
    )
    assert by_field == {"product_codes": ["no product X"], "valid_to": ["before valid_from"]}
    assert general == []
