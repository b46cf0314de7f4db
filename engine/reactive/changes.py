"""What one update changes in an enterprise's profile data, and the profile after it.

A session keeps each enterprise's profile data as nested dicts that are never changed in place:
an update copies only the mappings along the paths it writes (`merged`, `forgotten`) and shares
the rest. Comparing the data before and after is then cheap, and says which parts of the
profile to validate again (`revalidate`: the rules are the profile model's, applied to the
changed parts only) and which profile inputs changed (`changed_inputs`, in the vocabulary of
`FactPlan.profile_inputs`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import SchemaValidator

from ..errors import ProfileError
from ..model.profile import FINANCIAL_PARTS, PROFILE_PARTS, FinancialYear, Profile, parse_profile

# Top-level fields whose entries are validated one by one (a fiscal year, a declared fact).
_BY_ENTRY = ("financials", "facts")
# Top-level fields whose profile inputs are named per entry (`financials.revenue`,
# `facts.hnte_key_field`, `compliance.records`); every other field is one input.
_NESTED_INPUTS = ("financials", "facts", "compliance")
_ABSENT = object()
# Values `copy.deepcopy` gives back as they are (immutable, nothing inside).
_ATOMS = frozenset({str, int, float, bool, type(None), Decimal})
_PROFILE_FIELDS = frozenset(Profile.model_fields)
_YEAR_LINES = frozenset(FinancialYear.model_fields)
M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__  # past the models' frozen `__setattr__`, as pydantic's copy does

# A top-level field → the keys of its mapping that changed, or None when it changed as a whole.
Changes = dict[str, set[str] | None]
# The paths an update writes: each key it names → None (its whole value) or, for a mapping it
# merges into, the keys it names in that mapping, and so on down. Data it does not name is
# shared with the data before it (`merged`, `forgotten`), so only these paths can differ.
Written = dict[str, "Written | None"]


def written_by_set(values: Mapping[Any, Any]) -> Written:
    """The paths `merged(known, values)` writes (its keys as text, as `merged` makes them)."""
    return {
        str(key): None if type(value) in _ATOMS or not isinstance(value, Mapping)
        else written_by_set(value)
        for key, value in values.items()
    }  # fmt: skip


def written_by_retract(paths: Iterable[str]) -> Written:
    """The paths `forgotten` removes, for each dotted path in `paths`."""
    out: Written = {}
    for path in paths:
        *parents, last = path.split(".")
        node: Written | None = out
        for step in parents:
            if node is None:
                break
            node = node.setdefault(step, {})
        if node is not None:
            node[last] = None
    return out


def _under(written: Written | None, key: str) -> Written | None:
    """The paths written under `key` (None: any)."""
    return None if written is None else written.get(key)


def merged(known: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`known` with `changes` merged in (nested mappings merge, other values replace), as new
    dicts along the changed paths; everything else is shared with `known`."""
    out = dict(known)
    for key, value in changes.items():
        if type(key) is not str:
            key = str(key)  # JSON keys: `financials.2025` is addressed the same way everywhere
        if type(value) in _ATOMS:  # nothing inside to share with the caller
            out[key] = value
        elif isinstance(value, Mapping):
            inner = out.get(key)
            out[key] = merged(inner if isinstance(inner, dict) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def forgotten(data: dict[str, Any], path: str) -> dict[str, Any]:
    """`data` without the field at the dotted `path` (unchanged if it has none there)."""
    *parents, last = path.split(".")
    chain = [data]
    for step in parents:
        node = chain[-1].get(step)
        if not isinstance(node, dict):
            return data
        chain.append(node)
    if last not in chain[-1]:
        return data
    new = {k: v for k, v in chain[-1].items() if k != last}
    for parent, step in zip(reversed(chain[:-1]), reversed(parents), strict=True):
        new = {**parent, step: new}
    return new


def _differ(a: Any, b: Any) -> bool:
    return a is not b and not _same(a, b)


def _same(a: Any, b: Any) -> bool:
    """Whether two values of profile data validate alike: equal, and of the same type all the
    way down (`0 == False` and `{"x": 0} == {"x": False}` in Python, yet the profile model
    refuses a boolean count; `Decimal("1.0") == 1` reads back as `1.0`), keys in the same order."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        return list(a) == list(b) and all(_same(v, b[k]) for k, v in a.items())
    if kind is list or kind is tuple:
        return len(a) == len(b) and all(map(_same, a, b))
    if kind is Decimal or kind is float:
        return repr(a) == repr(b)
    return bool(a == b)


def changed(
    old: Mapping[str, Any], new: Mapping[str, Any], written: Written | None = None
) -> Changes:
    """The top-level fields that differ between two profile data, each with the keys of its
    mapping that differ (None if it is not a mapping on both sides); only along the paths
    `written`, when the rest is known to be shared (None: everywhere)."""
    out: Changes = {}
    for key in old.keys() | new.keys() if written is None else written:
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if a is b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            inner = _under(written, key)
            keys = a.keys() | b.keys() if inner is None else inner
            differ = {k for k in keys if _differ(a.get(k, _ABSENT), b.get(k, _ABSENT))}
            # what `_same(a, b)` would also see: the mappings' types and key order
            if differ or type(a) is not type(b) or list(a) != list(b):
                out[key] = differ
        elif not _same(a, b):
            out[key] = None
    return out


def changed_inputs(
    changes: Changes, old: Mapping[str, Any], new: Mapping[str, Any], written: Written | None = None
) -> tuple[set[str], set[str]]:
    """The profile inputs an update changed, and the prefixes (`financials.`) under which
    every input may have changed; the data differs only along the paths `written` (None:
    anywhere)."""
    inputs: set[str] = set()
    prefixes: set[str] = set()
    for key, keys in changes.items():
        if key not in _NESTED_INPUTS:
            inputs.add(key)
        elif keys is None:
            prefixes.add(f"{key}.")
        elif key != "financials":
            inputs.update(f"{key}.{k}" for k in keys)
        else:  # per fiscal year: the lines that differ
            for year in keys:
                a, b = old[key].get(year), new[key].get(year)
                if not (isinstance(a, dict) and isinstance(b, dict)):
                    a, b = (a if isinstance(a, dict) else {}), (b if isinstance(b, dict) else {})
                    if not (a or b):
                        prefixes.add("financials.")
                        continue
                lines = changed(a, b, _under(_under(written, key), year))
                inputs.update(f"financials.{line}" for line in lines)
    return inputs, prefixes


def revalidate(
    old_profile: Profile,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    changes: Changes,
    *,
    file: str,
    written: Written | None = None,
) -> Profile:
    """The profile of the data `new`, validated by the profile model only where it differs
    from the data `old` that `old_profile` was validated from (`changes`; only along the paths
    `written`, if given). Raises ProfileError as `parse_profile(new)` would: only changed
    fields can be invalid.

    Most updates change a field, a line of a fiscal year or a declared fact: those are assigned
    to a copy of the profile (`assigned`), each through the model's own validators; any other
    change validates the changed part of the data (`_changed_part`) as a profile. A change
    either refuses is validated whole, so that its refusal is exactly a whole validation's."""
    try:
        profile = assigned(old_profile, old, new, changes, written)
        if profile is None:
            profile = _revalidated_part(old_profile, old, new, changes, file=file)
    except (ValueError, ProfileError):  # ValidationError, or a model's after-validator's refusal
        return parse_profile(dict(new), file=file)
    return profile


def _revalidated_part(
    old_profile: Profile,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    changes: Changes,
    *,
    file: str,
) -> Profile:
    """`revalidate` by validating the changed part of the data as a profile."""
    partial = _changed_part(new, changes)
    checked = parse_profile(partial, file=file)
    fields: dict[str, Any] = {}
    for key, keys in changes.items():
        if key not in new:
            fields[key] = Profile.model_fields[key].get_default(call_default_factory=True)
        elif keys is not None and key in _BY_ENTRY:
            entries = _entries(
                _pairs(old[key], getattr(old_profile, key)),
                _pairs(partial[key], getattr(checked, key)),
                new[key],
            )
            if entries is None:  # keys that validate to one (`2025` and `02025`): start over
                return parse_profile(dict(new), file=file)
            fields[key] = entries
        else:
            fields[key] = getattr(checked, key)
    return old_profile.model_copy(update=fields)


# --- assigning changed fields -------------------------------------------------------------------
# pydantic's `validate_assignment` runs a field's validators (and the model's after-validators)
# with the model's other fields as `info.data`: on a copy of a profile that was valid, assigning
# the changed fields, then the parts whose whole changed (`PROFILE_PARTS`, `FINANCIAL_PARTS`:
# a part's validator reads its whole), validates what a whole validation would, field by field.


def assigned(
    old_profile: Profile,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    changes: Changes,
    written: Written | None = None,
) -> Profile | None:
    """`old_profile` with the changed fields of `new` assigned; None when a change is not of
    a field, a fiscal year's lines or declared facts (a new year, an unknown field). Raises
    ValidationError where the new data is invalid."""
    if not changes.keys() <= _PROFILE_FIELDS:
        return None
    profile = _copied(old_profile)
    for key, keys in changes.items():
        if key not in new:
            _assign(profile, key, _ABSENT)
        elif key == "financials" and keys is not None:
            years = _years_assigned(
                old_profile.financials, old[key], new[key], keys, _under(written, key)
            )
            if years is None:
                return None
            # Validated already: the years' keys are the old profile's, each year a model
            # whose changed lines were assigned through its validators (no validator of the
            # profile reads its fiscal years).
            profile.__dict__[key] = years
            profile.__pydantic_fields_set__.add(key)
        elif key == "facts" and keys is not None:
            if not _facts_assigned(profile, old_profile.facts, new[key], keys):
                return None
        else:
            _assign(profile, key, new[key])
    _reassign_parts(profile, changes, PROFILE_PARTS)
    return profile


def _copied(model: M) -> M:
    """A shallow copy of a model, as `model.model_copy()` makes it (its fields, the fields
    set, its private attributes; our models allow no extra fields), without the generic
    copying around it: an update copies a profile, and a fiscal year it changes."""
    cls = type(model)
    twin = cls.__new__(cls)
    private = model.__pydantic_private__
    _set(twin, "__dict__", model.__dict__.copy())
    _set(twin, "__pydantic_extra__", None)
    _set(twin, "__pydantic_fields_set__", model.__pydantic_fields_set__.copy())
    _set(twin, "__pydantic_private__", None if private is None else private.copy())
    return twin


def _assign(model: BaseModel, name: str, value: Any) -> None:
    """Validate `value` as the model's field `name` and set it (in place: `model` is a fresh
    copy); `_ABSENT` sets the field's default, as a whole validation of data without it does.

    A field whose validation reads nothing of the model's other fields is validated by its
    own part of the model's schema (`_field_validators`), then the model's after-validators
    run, which is what `validate_assignment` does without its generic machinery; any other
    field goes through `validate_assignment`."""
    cls = type(model)
    if value is _ABSENT:
        model.__dict__[name] = cls.model_fields[name].get_default(call_default_factory=True)
        return
    checks = _checks_of(cls)
    check = checks[0].get(name)
    if check is None:
        cls.__pydantic_validator__.validate_assignment(model, name, value)
        return
    model.__dict__[name] = check.validate_python(value)
    model.__pydantic_fields_set__.add(name)
    for after in checks[1]:
        after(model)


# Per model: its fields validated by their own schemas, and its after-validators (`_assign`).
FieldChecks = tuple[dict[str, SchemaValidator], tuple[Callable[[Any], Any], ...]]
_FIELD_CHECKS: dict[type[BaseModel], FieldChecks] = {}


def _field_validators(cls: type[BaseModel]) -> FieldChecks:
    """The fields of `cls` whose schema, within the model's, reads no other field (no
    validator given the validation info, no reference to a schema defined elsewhere), each
    as a validator of that schema under the model's config; and the model's after-validators.
    No field at all if the model has validators of another mode (they read the whole input)."""
    decorators = cls.__pydantic_decorators__.model_validators.values()
    if any(d.info.mode != "after" for d in decorators):
        return {}, ()
    if not cls.__pydantic_complete__:  # built on first use (`defer_build`): its schema is read
        cls.model_rebuild()
    schema = cls.__pydantic_core_schema__
    fields = _model_fields(schema)
    if fields is None:
        return {}, ()
    config = schema.get("config")
    checks = {
        name: SchemaValidator(field["schema"], config)
        for name, field in fields.items()
        if _reads_itself_only(field["schema"])
    }
    return checks, tuple(d.func for d in decorators)


def _model_fields(schema: Any) -> dict[str, Any] | None:
    """The `model-fields` schema's fields inside a model's schema (None: not found)."""
    while isinstance(schema, dict):
        if schema.get("type") == "model-fields":
            fields: dict[str, Any] = schema["fields"]
            return fields
        schema = schema.get("schema")
    return None


def _reads_itself_only(schema: Any) -> bool:
    """Whether no part of a field's schema is given the validation info (which holds the
    model's other fields) or refers to a definition elsewhere."""
    if isinstance(schema, dict):
        if schema.get("type") in ("definition-ref", "definitions", "model"):
            return False
        if schema.get("default_factory_takes_data"):
            return False
        function = schema.get("function")
        if isinstance(function, dict) and function.get("type") != "no-info":
            return False
        return all(_reads_itself_only(v) for v in schema.values())
    if isinstance(schema, list | tuple):
        return all(_reads_itself_only(v) for v in schema)
    return True


def _reassign_parts(
    model: BaseModel, changed_names: Mapping[str, Any], parts: Mapping[str, tuple[str, str]]
) -> None:
    """Validate again each stated part whose whole changed (its validator reads the whole).

    The part's value is one its field's validation gave, and validating such a value again
    gives it back (numbers already read, within their bounds) until the validators that read
    other fields: so where those are all after-validators of the field (`_rechecks`), they
    alone are called again, with the model's other fields, then the model's after-validators
    once, which is what `validate_assignment` of the same value would do; any other field
    goes through `_assign`."""
    rechecked = False
    for part, (whole, _) in parts.items():
        if whole in changed_names and part not in changed_names:
            value = getattr(model, part)
            if value is None:
                continue
            checks = _rechecks(type(model)).get(part)
            if checks is None:
                _assign(model, part, value)
                continue
            info = _Info({k: v for k, v in model.__dict__.items() if k != part}, part)
            for check in checks:
                value = check(value, info)
            model.__dict__[part] = value
            model.__pydantic_fields_set__.add(part)
            rechecked = True
    if rechecked:
        for after in _checks_of(type(model))[1]:
            after(model)


class _Info:
    """What a field validator is given of the model (pydantic's `ValidationInfo`): the other
    fields' values and the field's name."""

    __slots__ = ("data", "field_name")
    mode = "python"
    context = None

    def __init__(self, data: dict[str, Any], field_name: str) -> None:
        self.data, self.field_name = data, field_name


_RECHECKS: dict[type[BaseModel], dict[str, tuple[Callable[[Any, Any], Any], ...]]] = {}


def _rechecks(cls: type[BaseModel]) -> dict[str, tuple[Callable[[Any, Any], Any], ...]]:
    """Per field of `cls` whose only validators that read the model are after-validators of
    the field itself, those validators in pydantic's order (the order of their definition);
    none when the model has validators of the whole other than after-validators."""
    found = _RECHECKS.get(cls)
    if found is not None:
        return found
    decorators = cls.__pydantic_decorators__
    found = {}
    if all(d.info.mode == "after" for d in decorators.model_validators.values()):
        for name in cls.model_fields:
            own = [
                d for d in decorators.field_validators.values()
                if name in d.info.fields or "*" in d.info.fields
            ]  # fmt: skip
            if own and all(d.info.mode == "after" for d in own):
                found[name] = tuple(d.func for d in own)
    _RECHECKS[cls] = found
    return found


def _checks_of(cls: type[BaseModel]) -> FieldChecks:
    checks = _FIELD_CHECKS.get(cls)
    if checks is None:
        checks = _FIELD_CHECKS[cls] = _field_validators(cls)
    return checks


def _years_assigned(
    validated: Mapping[int, FinancialYear] | None,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    keys: set[str],
    written: Written | None,
) -> dict[int, FinancialYear] | None:
    """The fiscal years of `new`, in its order: a changed year as its old model with the changed
    lines assigned, the others as they were; None if a changed year is new or not a mapping."""
    pairs = _pairs(old, validated)
    if pairs is None:
        return None
    out: dict[int, FinancialYear] = {}
    for raw_key, data in new.items():
        if raw_key not in pairs:
            return None
        year_key, year = pairs[raw_key]
        if raw_key in keys:
            before = old[raw_key]
            if not (isinstance(before, dict) and isinstance(data, dict)):
                return None
            lines = changed(before, data, _under(written, raw_key))
            if not lines.keys() <= _YEAR_LINES:
                return None
            year = _copied(year)
            for line in lines:
                _assign(year, line, data.get(line, _ABSENT))
            _reassign_parts(year, lines, FINANCIAL_PARTS)
        out[year_key] = year
    return out


def _facts_assigned(
    profile: Profile, validated: Mapping[str, Any], new: Mapping[str, Any], keys: set[str]
) -> bool:
    """Set the profile's declared facts to those of `new`, in its order, validating only the
    changed ones (each fact's value is validated alone); False if the old facts do not
    match their data one to one."""
    if not all(k in validated for k in new if k not in keys):
        return False
    _assign(profile, "facts", {k: new[k] for k in keys if k in new})
    checked = profile.facts
    profile.__dict__["facts"] = {k: checked[k] if k in keys else validated[k] for k in new}
    return True


def _changed_part(new: Mapping[str, Any], changes: Changes) -> dict[str, Any]:
    """The part of the data to validate again: the changed fields, of a fiscal-year or facts
    mapping only the changed entries, and a part with its whole."""
    partial: dict[str, Any] = {}
    for key, keys in changes.items():
        if key in new:
            value = new[key]
            if keys is not None and key in _BY_ENTRY:
                value = {k: value[k] for k in keys if k in value}
            partial[key] = value
    for part, (whole, _) in PROFILE_PARTS.items():  # a part is checked against its whole
        if part in changes or whole in changes:
            partial.update({k: new[k] for k in (part, whole) if k in new})
    return partial


def _pairs(
    raw: Mapping[str, Any], validated: Mapping[Any, Any] | None
) -> dict[str, tuple[Any, Any]] | None:
    """Each key of the data → its validated key and value; None unless one to one."""
    items = list((validated or {}).items())
    return dict(zip(raw, items, strict=True)) if len(items) == len(raw) else None


def _entries(
    before: dict[str, tuple[Any, Any]] | None,
    now: dict[str, tuple[Any, Any]] | None,
    raw: Mapping[str, Any],
) -> dict[Any, Any] | None:
    """A validated mapping in the order of its data `raw`: the entries just validated (`now`),
    the others as before; None if its keys do not map one to one."""
    if before is None or now is None:
        return None
    out = dict((now[k] if k in now else before[k]) for k in raw)
    return out if len(out) == len(raw) else None
