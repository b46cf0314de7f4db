"""Typed, JSON-serialisable results. Money is Decimal yuan, serialised as a string."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, PlainSerializer

from ..model.facts import Change

Yuan = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]


class Status(str, Enum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    UNDETERMINED = "undetermined"
    NEEDS_REVIEW = "needs_review"
    NOT_IN_FORCE = "not_in_force"


Outcome = Literal["true", "false", "unknown", "review"]
AmountKind = Literal["cash", "tax_saving", "deduction", "none"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


R = TypeVar("R", bound=_Result)


def assemble(cls: type[R], values: dict[str, Any]) -> R:
    """A result built from values the engine already knows to be valid, without validating them
    again: evaluation builds tens of result objects per profile and validation was a tenth of
    its time. `model_construct` would do, but in pydantic 2 it costs more than validating; this
    sets exactly what it sets for models like these (no extra fields, no private attributes).

    `values` must give every field, in the order the model declares them (serialisation
    follows the order of the instance's dict): a dict literal written in that order, or a copy
    of `blank(cls)` filled in. The dict becomes the instance's own; do not reuse it.
    """
    if tuple(values) != _FIELD_ORDER[cls]:
        raise ValueError(f"{cls.__name__} needs the fields {', '.join(_FIELD_ORDER[cls])}")
    return assemble_filled(cls, values)


# The slots every pydantic model instance has, set through their descriptors directly (what
# `object.__setattr__` ends up calling, without looking them up on each result).
_SLOTS = BaseModel.__dict__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__
_object_new = object.__new__


def assemble_filled(cls: type[R], values: dict[str, Any]) -> R:
    """`assemble` of values whose order is the model's by construction, so it is not checked
    again: a copy of `blank(cls)` (or of a template made from one) whose fields were set, none
    added, or a dict literal that names every field in the model's order (the tests read each
    such result's fields against the model's: `test_later_results`).

    Every field is set, so every result of a model shares one set of the names set
    (`_FIELDS_SET`): pydantic copies it before it adds to it (`model_copy`), and frozen models
    never add to it otherwise. (Called for tens of results per explained profile: it is the
    builder itself rather than a wrapper of one.)"""
    result: R = _object_new(cls)
    _set_dict(result, values)
    _set_fields_set(result, _FIELDS_SET[cls])
    _set_extra(result, None)
    _set_private(result, None)
    return result




def _validated(result: _Result, values: dict[str, Any], given: Iterable[str]) -> None:
    """Set `result` as validating `values` (every field, in the model's order, each already
    the value validation gives it) sets it, `given` naming the fields passed (pydantic's
    `model_fields_set`): for the models whose `__init__` does it without building their
    validator, on values it can prove need none (`Text`, `Step`)."""
    _set_dict(result, values)
    _set_fields_set(result, set(given))
    _set_extra(result, None)
    _set_private(result, None)


_UNSET: Any = object()  # an argument not given
_STEP_LABEL = frozenset({"label"})


class Later:
    """A field's value not computed yet: `make()` gives it (see `assemble_later`)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def assemble_later(cls: type[R], values: dict[str, Any]) -> R:
    """`assemble`, where some values are `Later` (only `PolicyResult.gaps` and `.trace`,
    `Report.warnings` and `.opportunities` may be): they are computed the first time
    anything reads one of those or the result's fields as a whole (`model_dump`, JSON,
    equality, copies, pickling, `repr`), then kept; other attributes are read without
    computing them. For what costs more than the verdict and many callers never read (gaps,
    explanation trees, opportunities, warnings). The values must not change before they are
    read: they are computed from the evaluation's own context, which nothing else holds.
    Threads that read one result at once may each compute a value; they compute the same.

    The result is an instance of a subclass of `cls` until its values are computed, and of
    `cls` itself from then on (`type()` of it may say either; `isinstance` and `__class__`
    say `cls`). The values are in the model's order by construction, as for
    `assemble_filled`."""
    return assemble_filled(_LATER[cls], values)  # type: ignore[no-any-return]


def _compute(result: _Result, plain: type[_Result]) -> None:
    """Fill in a result's `Later` values and make it an instance of its model, `plain`.
    (`make` must not read the result: it would come back here.)"""
    values = object.__getattribute__(result, "__dict__")
    for name, value in values.items():
        if value.__class__ is Later:
            values[name] = value.make()
    object.__setattr__(result, "__class__", plain)


def _later_class(cls: type[_Result], fields: tuple[str, ...]) -> type[_Result]:
    # Reading these computes the values: the fields that may be Later, and what reads every
    # field (pydantic's serialiser and methods read `__dict__`; pickle and copies start from
    # the class, so they copy a plain instance).
    triggers = frozenset(
        {"__dict__", "__class__", "__reduce_ex__", "__copy__", "__deepcopy__", *fields}
    )

    def __getattribute__(self: _Result, name: str) -> Any:
        if name in triggers:
            _compute(self, cls)
        return object.__getattribute__(self, name)

    namespace = {"__slots__": (), "__module__": cls.__module__, "__qualname__": cls.__qualname__,
                 "__getattribute__": __getattribute__}  # fmt: skip
    metaclass: Any = type(cls)  # pydantic's: the subclass is a model like `cls`
    return cast(type[_Result], metaclass(cls.__name__, (cls,), namespace))


def blank(cls: type[_Result]) -> dict[str, Any]:
    """Every field of `cls` in declaration order, each None: a template for `assemble`."""
    return dict.fromkeys(_FIELD_ORDER[cls])


class Text(_Result):
    zh: str
    en: str

    def __init__(self, *, zh: str, en: str) -> None:
        # Two texts are what validating them gives: set without building the model's
        # validator (a one-profile command then builds none; see `_validated`).
        if type(zh) is str and type(en) is str:
            _validated(self, {"zh": zh, "en": en}, _FIELDS_SET[Text])
        else:
            super().__init__(zh=zh, en=en)

    def __call__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def text(*, zh: str, en: str) -> Text:
    """`Text(zh=…, en=…)` without validating two strings again (explanations build many)."""
    return assemble_filled(Text, {"zh": zh, "en": en})


class SourceInfo(_Result):
    document_id: str
    document: str
    number: str | None
    issuer: str
    article: str | None
    url: str | None
    provenance: Literal["verified", "illustrative"]
    note: str | None = None
    superseded_by: str | None = None  # the document that replaces this policy's document


class Trace(_Result):
    """One node of the evaluated condition tree."""

    kind: Literal["all", "any", "not", "leaf"]
    outcome: Outcome
    label: Text | None = None
    article: str | None = None
    provenance: Literal["verified", "illustrative"] | None = None
    fact: str | None = None
    fact_label: Text | None = None
    origin: str | None = None
    value: str | None = None
    value_text: Text | None = None
    op: str | None = None
    threshold: Text | None = None
    exclusion: bool = False
    children: list[Trace] = []


Mobility = Change  # how a fact can move (`model.facts.Change`)


class Gap(_Result):
    """A failing criterion and what it would take to pass it: in words (`value`, `required`,
    `change`) and as data for programs (`have`, `op`, `need`, `delta` in `unit`: decimal
    strings in the fact's unit, ISO dates, `true`/`false`; `delta` is `need − have`, in days
    for dates). `mobility` says how the fact can move; `actionable` is whether it is a
    decision the company can take (a gap on a fixed fact is a reason, never advice)."""

    fact: str
    label: Text
    article: str | None
    value: Text | None
    required: Text
    change: Text | None = None
    distance: Decimal | None = None  # relative, for "closest first"
    have: str | None = None
    op: str | None = None
    need: str | None = None
    delta: str | None = None
    unit: str | None = None
    mobility: Mobility = "actionable"
    actionable: bool = True


class Alternative(_Result):
    """One way to pass a policy: every gap in `gaps` closed together, every fact in `supply`
    stated (the profile does not say it) and meeting its criterion, every fact in `review`
    judged so by an expert. `mobility` is the hardest change it takes (actionable when it takes
    none); `certain` whether it suffices on what the profile states (nothing to supply or
    review)."""

    gaps: list[Gap]
    mobility: Mobility
    supply: list[Gap] = []
    review: list[Gap] = []
    certain: bool = True


class Opportunity(_Result):
    """A policy the company does not get today but could reach by its own changes: the ways
    to pass (either … or …, cheapest first), what it would bring, and its place by value.

    `status` is the policy's today: ineligible, or undetermined / needs review (facts to
    state or to have judged: each way's `supply` and `review`); `certain` whether the best
    way suffices on what the profile states. Uncertain opportunities rank after every certain
    one.

    `amount` is what the policy would pay on the profile's current figures of the policy's
    own basis (`attaches`: the evaluation date's last fiscal year, or the tax year's; the
    year of its figures is `fiscal_year`, None for an amount that reads none, and `tax_year`
    is the tax year of a tax-year preference); None: unknown, or a
    non-cash benefit, `benefit` says which. `worth` is what it would add to the report's
    total after stacking (an exclusive group's member adds only what it pays above the member
    paying today), with deductions counted at the 25% standard CIT rate for ranking only.
    `amount` is None too when every way changes a figure it is computed from (`note` says
    which); `note` otherwise says why `worth` is less than `amount`."""

    rank: int
    policy_id: str
    title: Text
    benefit: Text
    amount: Yuan | None
    amount_kind: AmountKind
    worth: Yuan | None
    alternatives: list[Alternative]
    provenance: Literal["verified", "illustrative"]
    note: Text | None = None
    status: Status = Status.INELIGIBLE
    certain: bool = True
    attaches: Literal["application", "tax_year"] = "application"
    fiscal_year: int | None = None
    tax_year: int | None = None


class Step(_Result):
    label: Text
    amount: Yuan | None = None

    def __init__(self, *, label: Text, amount: Any = _UNSET) -> None:
        # A Text and a finite Decimal (or None) are what validating them gives: as `Text`.
        if type(label) is Text and (
            amount is _UNSET or amount is None or (type(amount) is Decimal and amount.is_finite())
        ):
            given = _STEP_LABEL if amount is _UNSET else _FIELDS_SET[Step]
            _validated(self, {"label": label, "amount": None if amount is _UNSET else amount}, given)
        elif amount is _UNSET:
            super().__init__(label=label)
        else:
            super().__init__(label=label, amount=amount)


class PolicyResult(_Result):
    policy_id: str
    title: Text
    status: Status
    zones: list[str]
    benefit: Text
    benefit_kind: str
    amount: Yuan | None = None
    amount_kind: AmountKind = "none"
    amount_alone: Yuan | None = None
    calculation: list[Step] = []
    missing: list[str] = []
    missing_inputs: list[str] = []
    review: list[str] = []
    gaps: list[Gap] = []
    reason: Text | None = None
    stacking: Text | None = None
    source: SourceInfo
    effective_from: date | None = None
    effective_until: date | None = None
    # What it was evaluated for (`plan.Basis`): an application on the day `evaluated_on`, or a
    # tax-year preference for `tax_year` (evaluated on its 31 December, with its figures).
    attaches: Literal["application", "tax_year"] = "application"
    evaluated_on: date | None = None
    fiscal_year: int | None = None
    tax_year: int | None = None
    requires: list[Text] = []
    trace: Trace | None = None


class ProfileRef(_Result):
    credit_code: str | None
    name: str | None
    zone: str | None
    synthetic: bool


class Totals(_Result):
    cash: Yuan
    tax_saving: Yuan
    deduction: Yuan
    illustrative: Yuan  # the part of cash + tax_saving that rests on illustrative policies


class Notice(_Result):
    """Something implausible the profile states (a date after the evaluation date, R&D above
    ten times revenue…): the verdicts stand as evaluated, but the statement deserves a look."""

    message: str
    field: str | None = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        prefix = " ".join(p for p in (where, self.field) if p)
        return f"{prefix}: {self.message}" if prefix else self.message


class Report(_Result):
    as_of: date
    tax_year: int | None = None  # the tax year of tax-year preferences (default: as_of's year − 1)
    # The zones the profile was placed in (its zone and every zone containing it, innermost
    # first); policies of other zones are not_in_force with the zones they apply in as reason.
    zones_applied: list[str] = []
    profile: ProfileRef
    results: list[PolicyResult]
    total: Yuan
    totals: Totals
    warnings: list[Notice] = []
    opportunities: list[Opportunity] = []

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# Filled once at import, read-only afterwards (results are built from many threads).
_FIELD_ORDER: dict[type[_Result], tuple[str, ...]] = {
    cls: tuple(cls.model_fields) for cls in _Result.__subclasses__()
}
# The models whose results may hold values computed later, and the fields that may be, each
# with its subclass that computes them when read (`assemble_later`).
_LATER: dict[type[_Result], type[Any]] = {
    cls: _later_class(cls, fields)
    for cls, fields in ((PolicyResult, ("gaps", "trace")), (Report, ("warnings", "opportunities")))
}
_FIELD_ORDER.update({later: _FIELD_ORDER[cls] for cls, later in _LATER.items()})
# Each model's field names as the set of those set, shared by its results (`assemble_filled`).
_FIELDS_SET: dict[type[_Result], set[str]] = {
    cls: set(fields) for cls, fields in _FIELD_ORDER.items()
}
