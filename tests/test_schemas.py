"""Standard JSON Schemas (2020-12): an off-the-shelf validator (`jsonschema`) accepts every
bundled file and refuses broken ones, and no schema uses a keyword outside the standard."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from incentives.cli.main import main
from incentives.engine import PolicySet
from incentives.engine.model.yamlio import load_yaml
from incentives.engine.schema import KINDS, Known, schema_of

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent

# Every keyword of JSON Schema 2020-12 (core, applicator, validation, format, content,
# meta-data, unevaluated vocabularies).
STANDARD = frozenset(
    [
        "$schema",
        "$id",
        "$ref",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$vocabulary",
        "$comment",
        "$defs",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "prefixItems",
        "items",
        "contains",
        "properties",
        "patternProperties",
        "additionalProperties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "type",
        "const",
        "enum",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
        "required",
        "dependentRequired",
        "format",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "title",
        "description",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "examples",
    ]
)


@pytest.fixture(scope="module")
def validators(policies: PolicySet) -> dict[str, Any]:
    known = Known.of(policies)
    found = {}
    for kind in KINDS:
        schema = schema_of(kind, known)
        jsonschema.Draft202012Validator.check_schema(schema)
        found[kind] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker()
        )
    return found


def keywords(schema: Any) -> set[str]:
    """Every keyword used in `schema` (property names are names, not keywords)."""
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs", "dependentSchemas"):
            for child in value.values():
                found |= keywords(child)
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            for child in value:
                found |= keywords(child)
        elif isinstance(value, dict) and key not in ("default", "const", "examples"):
            found |= keywords(value)
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_only_standard_keywords(validators: dict[str, Any], kind: str) -> None:
    schema = validators[kind].schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert keywords(schema) <= STANDARD, keywords(schema) - STANDARD


def as_editors_see_it(data: Any) -> Any:
    """YAML as a schema-aware editor reads it: dates are text, mapping keys are text."""
    if isinstance(data, dict):
        return {str(k): as_editors_see_it(v) for k, v in data.items()}
    if isinstance(data, list):
        return [as_editors_see_it(v) for v in data]
    if isinstance(data, date):
        return data.isoformat()
    return data


def read(path: Path) -> Any:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    return as_editors_see_it(load_yaml(path.read_text(encoding="utf-8"))[0])


def kind_of(path: Path) -> str:
    if path.name.endswith(".cases.yaml"):
        return "cases"
    if path.name == "zones.yaml":
        return "zones"
    return "profile" if path.parent.name == "examples" else "policy"


BUNDLED = sorted(
    [*(ROOT / "policies").rglob("*.yaml"), *(ROOT / "examples").iterdir(),
     ROOT / "engine" / "model" / "zones.yaml"]
)  # fmt: skip


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_file_is_valid(validators: dict[str, Any], path: Path) -> None:
    errors = list(validators[kind_of(path)].iter_errors(read(path)))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_every_kind_of_file_is_covered() -> None:
    assert {kind_of(p) for p in BUNDLED} == set(KINDS)


PROFILE = ROOT / "examples" / "jinzhong-hightech.yaml"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"employees": -3}, ["employees"]),
        ({"employees": "三百"}, ["employees"]),
        ({"tech_staff": "-3人"}, ["tech_staff"]),
        ({"financials": {"2025": {"revenue": "-5万元"}}}, ["financials", "2025", "revenue"]),
        ({"financials": {"2025": {"revenue": "5 dollars"}}}, ["financials", "2025", "revenue"]),
        ({"financials": {"1800": {}}}, ["financials"]),
        ({"zone": "atlantis"}, ["zone"]),
        ({"facts": {"hnte_key_field": "yes"}}, ["facts", "hnte_key_field"]),
        ({"facts": {"not_declared": True}}, ["facts"]),
        ({"credit_code": "91140171MA0K00021"}, ["credit_code"]),
        ({"industry_code": "Z99"}, ["industry_code"]),
        ({"registration_date": "2019-13-01"}, ["registration_date"]),
        (
            {"intellectual_property": [{"kind": "invention_patent", "count": 0}]},
            ["intellectual_property", 0, "count"],
        ),
        ({"employes": 3}, []),
    ],
)
def test_a_broken_profile_is_refused(
    validators: dict[str, Any], change: dict[str, Any], where: list[Any]
) -> None:
    data = read(PROFILE)
    for key, value in change.items():
        data[key] = (
            {**data.get(key, {}), **value} if isinstance(value, dict) and key != "facts" else value
        )
    errors = list(validators["profile"].iter_errors(data))
    assert errors
    paths = [list(e.absolute_path) for e in _with_reasons(errors)]
    assert any(path[: len(where)] == where for path in paths), [e.message for e in errors]


def _with_reasons(errors: Any) -> list[Any]:
    """The errors and, for an `anyOf` that failed, why each of its branches failed."""
    return [e for error in errors for e in [error, *_with_reasons(error.context or [])]]


def test_values_the_engine_reads_are_accepted(validators: dict[str, Any]) -> None:
    data = {"employees": "1,200人", "tech_staff": 14.5, "financials": {"2025": {"taxable_income": "-20万元", "revenue": "1.5亿元"}},
            "credit_code": " 91140171ma0k000214 ", "industry_code": "4210", "facts": {"hnte_innovation_score": "76分"}}  # fmt: skip
    assert validators["profile"].is_valid(data)


def test_broken_policy_case_and_zone_files_are_refused(validators: dict[str, Any]) -> None:
    document = read(ROOT / "policies" / "national" / "hnte.yaml")
    document["policies"][0]["when"]["all"][0]["fact"] = "no_such_fact"
    assert not validators["policy"].is_valid(document)
    document = read(ROOT / "policies" / "national" / "hnte.yaml")
    document["zones"] = ["atlantis"]
    assert not validators["policy"].is_valid(document)
    cases = read(ROOT / "policies" / "national" / "hnte.cases.yaml")
    cases["cases"][0]["expect"]["status"] = "approved"
    assert not validators["cases"].is_valid(cases)
    cases = read(ROOT / "policies" / "national" / "hnte.cases.yaml")
    cases["cases"][0]["policy"] = "national.hnte.certifcation"
    assert not validators["cases"].is_valid(cases)
    cases["cases"][0]["policy"] = "national.hnte.certification"
    cases["cases"][0]["profile"] = {"financials": {"2024": {"rd_expense": None}}, "employees": None}
    assert validators["cases"].is_valid(cases)  # null removes a field from the merged profile
    assert not validators["zones"].is_valid(
        {"zones": [{"id": "x", "zh": "x", "en": "x", "parent": "atlantis"}]}
    )


def test_the_command_prints_the_same_schemas(policies: PolicySet, tmp_path: Path) -> None:
    for kind in KINDS:
        result = CliRunner().invoke(main, ["schema", kind])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == schema_of(kind, Known.of(policies))
    broken = CliRunner().invoke(main, ["schema", "profile", "--policies", str(tmp_path)])
    assert broken.exit_code == 1 and "no policy documents" in broken.output
