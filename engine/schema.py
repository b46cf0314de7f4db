"""Standard JSON Schemas (draft 2020-12) of every file the engine reads: enterprise profiles,
policy documents, worked-example case files and zone files.

pydantic's own schemas describe the models, but not in terms an off-the-shelf validator
enforces: a bound on a field with a unit-reading validator comes out as the non-standard
keyword `ge`, which validators ignore (so `employees: -3` passed), and amounts with units
(`1200万元`) are plain strings. Here the models' schemas are generated with
- amounts, headcounts and quantity facts as a number or a text matching the units the engine
  reads (the suffix table of `model.units`), with numeric bounds as `minimum`/`maximum`;
- every bound pydantic could not place given as `minimum`/`maximum` on the numeric branches
  (and, for a lower bound of zero or more, no leading minus sign on the text branches);
- where a policy set is known: its zones, its declared facts (and the type of each fact a
  profile may state), and its policy ids as enumerations.

The models themselves are not changed: this module only reads them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema

from .model import units
from .model.creditcode import CHARSET
from .model.facts import FactDef, FactType
from .model.language import Document
from .model.profile import Headcount, Money, Profile
from .model.zones import ZoneFile
from .reference.results import Report

if TYPE_CHECKING:
    from .policyset import PolicySet

DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("profile", "policy", "cases", "zones")  # the files a user writes
OUTPUT_KINDS = ("report",)  # what a command prints for programs

# --- values with units -------------------------------------------------------------------------

# The number part of `units.parse_quantity` (grouping commas, a fraction), without its sign.
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
# The engine refuses magnitudes of 10^18 and more (`units.EXPONENT_LIMIT`).
_LIMIT = 10**units.EXPONENT_LIMIT


def unit_pattern(allowed: Iterable[units.Unit], *, signed: bool = True) -> str:
    """A regular expression for the text `parse_quantity` reads as one of `allowed` units
    (or a plain number): `1200万元`, `3%`, `-5 万元`."""
    suffixes = sorted(
        {s for s, _, unit in units._SUFFIXES if unit in set(allowed)}, key=lambda s: (-len(s), s)
    )
    suffix = "|".join(re.escape(s) for s in suffixes)
    sign = "[+-]?" if signed else r"\+?"
    return rf"^\s*{sign}{_DIGITS}\s*(?:{suffix})?\s*$" if suffix else rf"^\s*{sign}{_DIGITS}\s*$"


def quantity_schema(
    allowed: Iterable[units.Unit], description: str, *, minimum: int | None = None
) -> JsonSchemaValue:
    """A number, or a text with one of the units, within the engine's magnitudes."""
    number: dict[str, Any] = {"type": "number", "exclusiveMaximum": _LIMIT}
    if minimum is None:
        number["exclusiveMinimum"] = -_LIMIT
    else:
        number["minimum"] = minimum
    text = {
        "type": "string",
        "pattern": unit_pattern(allowed, signed=minimum is None or minimum < 0),
    }
    return {"anyOf": [number, text], "description": description}


_MONEY = quantity_schema([units.Unit.YUAN], "an amount in yuan: 1200万元, 1.5亿元, 12000000")
_HEADCOUNT = quantity_schema([units.Unit.PERSON], "a number of persons: 86, 86人", minimum=0)
# The unit-reading validators of the profile's annotated types, by the schema they get.
_VALIDATED: dict[object, JsonSchemaValue] = {
    get_args(Money)[1].func: _MONEY,
    next(m.func for m in get_args(Headcount)[1:] if hasattr(m, "func")): _HEADCOUNT,
}

_CREDIT_CODE = {
    "type": "string",
    "pattern": rf"^\s*[{CHARSET}{CHARSET[10:].lower()}]{{18}}\s*$",
    "description": "统一社会信用代码: 18 characters (GB 32100-2015); the check character is "
    "verified by the engine",
}
# `model.industry`: a section letter and/or 2-4 digits, in either case, around spaces.
_INDUSTRY = {
    "type": "string",
    "pattern": r"^\s*(?=\S)[A-Ta-t]?(?:\d{2}(?:\d{1,2})?)?\s*$",
    "description": "GB/T 4754-2017 industry code: C4210, 4210, C",
}
_FISCAL_YEAR = {"pattern": r"^(?:19(?:49|[5-9]\d)|2[01]\d\d|2200)$"}


class StandardJsonSchema(GenerateJsonSchema):
    """pydantic's generator, with the profile's unit-reading fields as standard schemas and
    every bound in standard keywords."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        function = schema["function"]["function"]
        known = _VALIDATED.get(function)
        if known is not None:
            return copy.deepcopy(known)
        return super().function_before_schema(schema)

    def generate(
        self, schema: core_schema.CoreSchema, mode: JsonSchemaMode = "validation"
    ) -> JsonSchemaValue:
        generated = super().generate(schema, mode)
        standardise(generated)
        return {"$schema": DIALECT, **generated}


# --- bounds in standard keywords ---------------------------------------------------------------

_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMAS = ("items", "additionalProperties", "propertyNames", "not", "if", "then", "else",
               "contains", "unevaluatedItems", "unevaluatedProperties")  # fmt: skip


def subschemas(schema: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """The schemas directly inside `schema` (not the names of its properties)."""
    for key in _SUBSCHEMA_MAPS:
        yield from (s for s in schema.get(key, {}).values() if isinstance(s, dict))
    for key in _SUBSCHEMA_LISTS:
        yield from (s for s in schema.get(key, []) if isinstance(s, dict))
    for key in _SUBSCHEMAS:
        if isinstance(schema.get(key), dict):
            yield schema[key]


def standardise(schema: dict[str, Any]) -> dict[str, Any]:
    """Move pydantic's non-standard bound keywords (`ge`, `gt`, `le`, `lt`), in place, onto the
    numeric branches as `minimum` and friends; a lower bound of zero or more also refuses text
    that starts with a minus sign. Returns `schema`."""
    bounds = {key: schema.pop(key) for key in _BOUNDS if key in schema}
    if bounds:
        _apply_bounds(schema, bounds)
    for child in subschemas(schema):
        standardise(child)
    return schema


def _apply_bounds(schema: dict[str, Any], bounds: dict[str, Any]) -> None:
    branches = schema.get("anyOf") or schema.get("oneOf") or [schema]
    for branch in branches:
        kind = branch.get("type")
        if kind in ("number", "integer"):
            for key, value in bounds.items():
                branch[_BOUNDS[key]] = value
        elif kind == "string" and any(
            key in ("ge", "gt") and value >= 0 for key, value in bounds.items()
        ):
            branch["not"] = {"pattern": r"^\s*-"}


# --- what a policy set knows -------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """The names a policy set defines, for enumerations in the schemas."""

    zones: tuple[str, ...]
    facts: Mapping[str, FactDef]
    policy_ids: tuple[str, ...]

    @classmethod
    def of(cls, policy_set: PolicySet) -> Known:
        return cls(
            tuple(sorted(policy_set.zones)),
            dict(policy_set.facts),
            tuple(sorted(p.id for p in policy_set.policies)),
        )


def _model_schema(model: type[BaseModel], mode: JsonSchemaMode = "validation") -> dict[str, Any]:
    return model.model_json_schema(by_alias=True, schema_generator=StandardJsonSchema, mode=mode)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` that also admits null, without nesting a second null."""
    branches = schema.get("anyOf")
    if branches is not None and {"type": "null"} in branches:
        return schema
    extra: dict[str, Any] = {
        k: schema.pop(k) for k in ("default", "description", "title") if k in schema
    }
    return {"anyOf": [schema, {"type": "null"}], **extra}


def _set_in(schema: dict[str, Any], value: dict[str, Any]) -> None:
    """Put `value` where the non-null branch of an optional field's schema is."""
    branches = schema.get("anyOf")
    target = next((b for b in branches or [] if b != {"type": "null"}), None)
    if target is None:
        described = {k: schema[k] for k in ("default", "description", "title") if k in schema}
        schema.clear()
        schema.update(value, **described)
    else:
        target.clear()
        target.update(value)


def fact_value_schema(defn: FactDef) -> dict[str, Any]:
    """What a profile may state for a declared fact (see `reference.context`)."""
    label = f"{defn.zh} / {defn.en}"
    if defn.type is FactType.BOOL:
        return {"type": "boolean", "description": label}
    if defn.type is FactType.DATE:
        return {"type": "string", "format": "date", "description": label}
    if defn.type is FactType.CODE:
        return {"type": "string", "description": label}
    if defn.type is FactType.CODES:
        return {"type": "array", "items": {"type": "string"}, "description": label}
    assert defn.unit is not None
    return quantity_schema([defn.unit], label)


def profile_schema(
    known: Known | None = None, mode: JsonSchemaMode = "validation"
) -> dict[str, Any]:
    """Enterprise profiles (`incentives check PROFILE`)."""
    schema = _model_schema(Profile, mode)
    props = schema["properties"]
    _set_in(props["credit_code"], dict(_CREDIT_CODE))
    _set_in(props["industry_code"], dict(_INDUSTRY))
    financials = next(b for b in props["financials"]["anyOf"] if b.get("type") == "object")
    financials["propertyNames"] = dict(_FISCAL_YEAR)
    if known is not None:
        _set_in(props["zone"], {"type": "string", "enum": list(known.zones)})
        stated = {d.profile_fact: d for d in known.facts.values() if d.profile_fact is not None}
        props["facts"] = {
            "type": "object",
            "description": props["facts"].get("description", ""),
            "properties": {name: fact_value_schema(stated[name]) for name in sorted(stated)},
            "additionalProperties": False,
        }
    return schema


# Fields of the policy language that name a fact, by model.
_FACT_FIELDS = {"Leaf": ("fact",), "Tiers": ("by", "base"), "RateOf": ("base",),
                "PerUnit": ("quantity",), "TaxRate": ("base",), "Deduction": ("base",)}  # fmt: skip


def _enumerate(schema: dict[str, Any], names: Iterable[str]) -> None:
    """Restrict a string field (optional or not, or a list of strings) to `names`."""
    values = list(names)
    for branch in schema.get("anyOf") or [schema]:
        if branch.get("type") == "string":
            branch["enum"] = values
        elif branch.get("type") == "array" and branch.get("items", {}).get("type") == "string":
            branch["items"]["enum"] = values


def policy_schema(known: Known | None = None) -> dict[str, Any]:
    """Policy documents (`policies/**.yaml`)."""
    schema = _model_schema(Document)
    if known is None:
        return schema
    defs = schema["$defs"]
    for model, fields in _FACT_FIELDS.items():
        for name in fields:
            _enumerate(defs[model]["properties"][name], sorted(known.facts))
    _enumerate(defs["Policy"]["properties"]["monotone"], sorted(known.facts))
    _enumerate(defs["Policy"]["properties"]["zones"], known.zones)
    _enumerate(schema["properties"]["zones"], known.zones)
    return schema


def zones_schema(known: Known | None = None) -> dict[str, Any]:
    """Zone files (`zones.yaml` beside a policy directory's documents)."""
    schema = _model_schema(ZoneFile)
    if known is not None:
        _enumerate(schema["$defs"]["Zone"]["properties"]["parent"], known.zones)
    return schema


def report_schema(known: Known | None = None) -> dict[str, Any]:
    """What `check --format json` prints and `POST /v1/check` returns (a `Report`): amounts
    are decimal strings, `trace` is null unless asked for."""
    schema = _model_schema(Report, "serialization")
    schema["description"] = (
        "The report of one profile against a policy set: every policy's verdict, amount, "
        "missing facts and gaps, the totals and the opportunities ranked by value."
    )
    if known is not None:
        _enumerate(schema["$defs"]["PolicyResult"]["properties"]["policy_id"], known.policy_ids)
        _enumerate(schema["$defs"]["Opportunity"]["properties"]["policy_id"], known.policy_ids)
    return schema


def _patchable(schema: dict[str, Any], defs: dict[str, Any], seen: set[str]) -> None:
    """Let every property reachable through mappings (not list items) be null: in a case file
    null removes the field from the merged profile."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        patched = f"{name}Patch"
        schema["$ref"] = f"#/$defs/{patched}"
        if patched not in seen:
            seen.add(patched)
            defs[patched] = copy.deepcopy(defs[name])
            _patchable(defs[patched], defs, seen)
        return
    for name, child in list(schema.get("properties", {}).items()):
        _patchable(child, defs, seen)
        schema["properties"][name] = _nullable(child)
    if isinstance(schema.get("additionalProperties"), dict):
        _patchable(schema["additionalProperties"], defs, seen)
        schema["additionalProperties"] = _nullable(schema["additionalProperties"])
    for branch in schema.get("anyOf", []):
        _patchable(branch, defs, seen)


def cases_schema(known: Known | None = None) -> dict[str, Any]:
    """Worked-example case files (`<document>.cases.yaml`)."""
    from .check.cases import CaseFile

    schema = _model_schema(CaseFile)
    profile = profile_schema(known)
    defs = schema["$defs"]
    for name, definition in profile.pop("$defs").items():
        defs[name] = definition
    profile.pop("$schema")
    profile["title"] = "ProfilePatch"
    defs["ProfilePatch"] = profile
    _patchable(profile, defs, {"ProfilePatch"})
    for model in ("Case", "Defaults"):
        field = defs[model]["properties"]["profile"]
        field.clear()
        field.update({"$ref": "#/$defs/ProfilePatch", "description": "deep-merged over the "
                      "defaults: mappings merge, lists replace, null removes a field"})  # fmt: skip
    amount = defs["Expect"]["properties"]["amount"]
    _set_in(amount, quantity_schema([units.Unit.YUAN], "the amount after its cap: 10万元"))
    if known is not None:
        _enumerate(defs["Case"]["properties"]["policy"], known.policy_ids)
        _enumerate(defs["Expect"]["properties"]["missing"], sorted(known.facts))
    return schema


SCHEMAS: dict[str, Callable[[Known | None], dict[str, Any]]] = {
    "profile": profile_schema,
    "policy": policy_schema,
    "cases": cases_schema,
    "zones": zones_schema,
    "report": report_schema,
}


def schema_of(kind: str, known: Known | None = None) -> dict[str, Any]:
    """The schema of one kind of file (see `KINDS`)."""
    return SCHEMAS[kind](known)
