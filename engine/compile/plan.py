"""The plan: a loaded policy set as plain, immutable data, produced once by `compile.loader`.

Every back end reads the plan and nothing else of the source documents: the reference
evaluator compiles it into closures, the vectorised back end into Polars expressions, the
reactive back end into durable_rules patterns; lint and `engine.testing` walk it. What a policy
*means* is decided here, once, and each back end only translates it into its own idiom:

- **criteria** (`PolicyPlan.criteria`): the condition tree and the exclusions, each a
  `Criterion` tagged `exclusion` or not. A policy's criteria hold when every criterion that is
  not an exclusion is true and every exclusion is false, in Kleene logic (`all` is the minimum
  of false < unknown < true, `any` the maximum, `not` swaps true and false). Leaves
  (`Comparison`) hold their operand already parsed: a `Decimal` in the fact's unit, a
  `DateBound` (a fixed date, or an offset from the evaluation date), a frozenset for `in` and
  `not_in`, upper-cased prefixes for `prefix_in`;
- **where it applies** (`PolicyPlan.applies_in`): every zone id in which the policy applies
  (a zone and all zones below it), or None for everywhere; a profile whose zone is not in the
  set gets `not_in_force`, and a profile without a zone decides nothing for a policy that does
  not apply everywhere;
- **when it is in force** (`PolicyPlan.effective`): the policy's own dates over its
  document's;
- **what it attaches to** (`PolicyPlan.attaches`): an `application` (a recognition, an award,
  a service) is evaluated on the evaluation date and reads the fiscal year before it; a
  `tax_year` preference is evaluated for a tax year (纳税年度): in force when its period covers
  31 December of that year, reading that year's financials, with certificates valid on that
  day (so a certificate issued in the year counts for the whole year, as 国家税务总局公告2017年
  第24号 says of the HNTE certificate, and one that lapsed during the year does not) and date
  thresholds counted from it (`Basis`, `Dates`);
- **what it pays** (`BenefitPlan`): a fixed amount, a base fact times a factor, or bands of a
  fact (the first band that holds pays, a value in no band pays 0), then the cap; a negative
  base pays nothing; products are exact and rounded once (`Rounding`: half up to the fen);
- **stacking** (`StackingPlan`, `GroupPlan`): an exclusive group pays only its highest member
  (ties: the lowest id), then a group cap limits what the members pay together, in that order;
- **facts** (`FactPlan`): where each value comes from with its parameters parsed, the facts and
  profile inputs it depends on, and whether an unknown value may need an expert (`review`).

Plans compare equal when they define the same thing: where something is written (file, line,
field path) is kept for messages but is not compared, and neither is the wording of a bound as
written. One `Band` type serves benefit tiers, the scores of `points` facts and lint. Every
type here is a frozen, slotted record (`records.record`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import ClassVar, Literal

from ..model.facts import Change, FactType
from ..model.units import Unit, format_quantity, shift_date, shifted
from ..reference.results import SourceInfo
from .records import Record, record

Path = tuple[str | int, ...]
AmountKind = Literal["cash", "tax_saving", "deduction", "none"]


@record
class Where(Record):
    """Where something is written: the file (relative to the policy directory's parent), the
    line, and the path of the field inside the document."""

    file: str
    line: int | None = None
    path: Path = ()

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


_UNWRITTEN = Where("")  # where a plan built in code (not loaded) is "written"


# --- periods and dates -----------------------------------------------------------------------


@record
class Duration(Record):
    """A whole number of years, months or days (`3年`, `6个月`), or `calendar` years: the
    current calendar year and the `amount − 1` before it (`上一年及当年`: two calendar years)."""

    amount: int
    unit: Unit
    calendar: bool = False

    def before(self, day: date) -> date:
        """The start of the period ending on `day` (exclusive): `day` minus this period,
        calendar-wise (29 February minus one year: 28 February); for calendar years, 31
        December before the first of them (上一年及当年 on 2026-06-01: after 2024-12-31)."""
        if self.calendar:
            return date(day.year - self.amount, 12, 31)
        return shifted(day, -self.amount, self.unit)

    def after(self, day: date) -> date:
        return shift_date(day, self.amount, self.unit)


@record
class DateBound(Record):
    """A date threshold: fixed, or relative to the evaluation date (`-1年`: one year before)."""

    fixed: date | None = None
    amount: int = 0
    unit: Unit = Unit.DAY

    def resolve(self, as_of: date) -> date:
        return self.fixed if self.fixed is not None else shifted(as_of, self.amount, self.unit)

    def text(self) -> str:
        if self.fixed is not None:
            return self.fixed.isoformat()
        return f"as_of {'-' if self.amount < 0 else '+'} {abs(self.amount)} {self.unit.value}(s)"


Attaches = Literal["application", "tax_year"]
ATTACHES: tuple[Attaches, ...] = ("application", "tax_year")


@record
class Basis(Record):
    """What one policy's evaluation looks at: the day `on` (in force, certificates valid,
    compliance records, date thresholds) and the fiscal year whose financials are "the last
    year" (`fiscal_year`; earlier years count back from it); `tax_year` for a tax-year
    preference, None for an application."""

    on: date
    fiscal_year: int
    tax_year: int | None = None


@record
class Dates(Record):
    """The two dates of one evaluation: the evaluation date (applications) and the tax year
    (tax-year preferences; by default the year before the evaluation date, the last tax year
    that has ended, whose 汇算清缴 runs to 31 May of the evaluation year)."""

    as_of: date
    tax_year: int

    @staticmethod
    def of(as_of: date, tax_year: int | None = None) -> Dates:
        return Dates(as_of, as_of.year - 1 if tax_year is None else tax_year)

    def basis(self, attaches: Attaches) -> Basis:
        if attaches == "tax_year":
            return Basis(date(self.tax_year, 12, 31), self.tax_year, self.tax_year)
        return Basis(self.as_of, self.as_of.year - 1)


@record
class Period(Record):
    """When a policy is in force, both ends included; None is open."""

    start: date | None = None
    until: date | None = None

    def covers(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (
            self.until is None or day <= self.until
        )


# --- bands -----------------------------------------------------------------------------------


@record
class Band(Record):
    """One band of a banded table, on the value of a fact (in that fact's unit): benefit tiers
    (paying `amount` yuan or `rate` of the base) and the scores of a `points` fact (`amount`
    points). The first band of a table that holds applies; a value in no band pays 0."""

    low: Decimal | None = None
    low_inclusive: bool = True
    high: Decimal | None = None
    high_inclusive: bool = True
    amount: Decimal | None = None
    rate: Decimal | None = None
    written: str = field(default="", compare=False)  # the bounds as the author wrote them
    where: Where = field(default=_UNWRITTEN, compare=False, repr=False)

    def holds(self, value: Decimal) -> bool:
        low, high = self.low, self.high
        if low is not None and (value < low or (value == low and not self.low_inclusive)):
            return False
        return high is None or value < high or (value == high and self.high_inclusive)

    def within(self, other: Band) -> bool:
        """Every value of this band is in `other`."""
        return _inner(self.low, self.low_inclusive, other.low, other.low_inclusive, 1) and _inner(
            self.high, self.high_inclusive, other.high, other.high_inclusive, -1
        )

    def bounds(self) -> Iterator[tuple[str, Decimal]]:
        """The bounds as comparisons: ("ge" or "gt", low), ("le" or "lt", high)."""
        if self.low is not None:
            yield ("ge" if self.low_inclusive else "gt"), self.low
        if self.high is not None:
            yield ("le" if self.high_inclusive else "lt"), self.high

    def text(self, unit: Unit, lang: str) -> str:
        """`≥ 3%, < 5%` in the fact's unit (全部 / any for a band without bounds)."""
        symbols = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
        parts = [f"{symbols[op]} {format_quantity(v, unit, lang)}" for op, v in self.bounds()]
        return ", ".join(parts) or ("全部" if lang == "zh" else "any")


def _inner(
    mine: Decimal | None, mine_in: bool, other: Decimal | None, other_in: bool, sign: int
) -> bool:
    """One side of `Band.within`: this bound is inside the other's (sign 1 low, -1 high)."""
    if other is None:
        return True
    if mine is None:
        return False
    if mine != other:
        return (mine - other) * sign > 0
    return other_in or not mine_in


def first_band(bands: tuple[Band, ...], value: Decimal) -> Band | None:
    """The first band that holds the value (a loop: a generator costs more than the few bands
    of a table; the reactive session and every evaluation ask for the score bands often)."""
    for band in bands:
        if band.holds(value):
            return band
    return None


# --- facts -----------------------------------------------------------------------------------


@record
class FieldSource(Record):
    """A profile field, by its path (`compliance.tax_credit_rating`)."""

    kind: ClassVar[str] = "field"
    path: tuple[str, ...]


@record
class FinancialSource(Record):
    """A financial line of the last fiscal year (`years_back` 0) or an earlier one."""

    kind: ClassVar[str] = "financial"
    line: str
    years_back: int = 0


@record
class SumYearsSource(Record):
    """A financial line summed over the last `years` fiscal years, counting only the years
    since registration (实际经营期不满N年的按实际经营时间计算)."""

    kind: ClassVar[str] = "sum_years"
    line: str
    years: int


@record
class RatioSource(Record):
    """numerator ÷ denominator; unknown when the denominator is zero."""

    kind: ClassVar[str] = "ratio"
    numerator: str
    denominator: str


@record
class GrowthSource(Record):
    """A financial line's last year over the year before, minus one."""

    kind: ClassVar[str] = "growth"
    line: str


@record
class IpCountSource(Record):
    """Items of intellectual property of the listed kinds (the classes resolved to kinds),
    acquisitions and relation to the main products (None: any); with `granted_years`, only
    those granted in the last N fiscal years (an item without a grant date is then unknown)."""

    kind: ClassVar[str] = "ip_count"
    classes: tuple[str, ...]
    kinds: frozenset[str]
    acquisitions: frozenset[str] | None = None
    main_product: bool | None = None
    granted_years: int | None = None  # only items granted in the last N fiscal years


@record
class CertifiedSource(Record):
    """A certificate of this kind valid on the evaluation date: issued by then and not expired
    (`validity` after issue when the certificate states no expiry)."""

    kind: ClassVar[str] = "certified"
    certificate: str
    validity: Duration | None = None


@record
class RecordsSource(Record):
    """Compliance records of these kinds and severities within the period before the
    evaluation date (after its start, up to the evaluation date)."""

    kind: ClassVar[str] = "records"
    kinds: frozenset[str]
    severities: frozenset[str]
    within: Duration


@record
class ProfileFactSource(Record):
    """A fact the profile states in its `facts` map, by name."""

    kind: ClassVar[str] = "profile_fact"
    name: str


@record
class PointsSource(Record):
    """Points read off bands of another fact."""

    kind: ClassVar[str] = "points"
    by: str
    bands: tuple[Band, ...]


@record
class SumOfSource(Record):
    """The sum of facts in the same unit; unknown when any part is."""

    kind: ClassVar[str] = "sum_of"
    parts: tuple[str, ...]


@record
class MaxOfSource(Record):
    """The best of alternative facts; unknown when any part is (it could be the best)."""

    kind: ClassVar[str] = "max_of"
    parts: tuple[str, ...]


@record
class CertificatesSource(Record):
    """The history of one certificate kind, read on the evaluation date from the certificates
    issued by then: the latest's issue date, whether it is the only one, or the length of the
    unbroken chain ending with it (`model.facts.Certificates`)."""

    kind: ClassVar[str] = "certificates"
    certificate: str
    measure: Literal["latest_issued", "first", "consecutive"]
    validity: Duration | None = None
    grace: Duration = Duration(0, Unit.DAY)

    def end(self, issued: date, expires: date | None) -> date | None:
        """The first day a certificate no longer covers (None: open-ended)."""
        if expires is not None:
            return expires + timedelta(days=1)
        return None if self.validity is None else self.validity.after(issued)


@record
class ProjectSource(Record):
    """A field of the project applied for: the one marked `applying`, or the only one."""

    kind: ClassVar[str] = "project"
    field: str


@record
class CagrSource(Record):
    """Compound yearly growth of a line over `years`: (last ÷ `years` before)^(1/years) − 1."""

    kind: ClassVar[str] = "cagr"
    line: str
    years: int


@record
class AverageGrowthSource(Record):
    """The mean of a line's yearly growth rates over the last `years` years."""

    kind: ClassVar[str] = "average_growth"
    line: str
    years: int


@record
class IndustryShareSource(Record):
    """The share of the last fiscal year's income by industry from the industries under
    `prefixes` (the list `name` of `model.industry.INDUSTRY_LISTS`)."""

    kind: ClassVar[str] = "industry_share"
    name: str
    prefixes: tuple[str, ...]


Source = (
    FieldSource | FinancialSource | SumYearsSource | RatioSource | GrowthSource | IpCountSource
    | CertifiedSource | RecordsSource | ProfileFactSource | PointsSource | SumOfSource
    | MaxOfSource | CertificatesSource | ProjectSource | CagrSource | AverageGrowthSource
    | IndustryShareSource
)  # fmt: skip
READ_KINDS = frozenset({"field", "financial", "profile_fact"})
FORMULA_KINDS = frozenset({"points", "sum_of", "max_of"})

ReviewRule = Literal["judgement", "parts", "never"]
"""How an unknown value of a fact is told to need an expert: `judgement`, as the fact declares
(read facts); `parts`, when every unknown fact it is computed from needs one (ratios and the
formulas `points`, `sum_of`, `max_of`; a zero denominator never does); `never` (multi-year
sums, growth, IP counts, certificates, records)."""


@record
class FactPlan(Record):
    """One fact: type and unit, where its value comes from, what it depends on, and whether
    an unknown value may need an expert's judgement."""

    id: str
    type: FactType
    unit: Unit | None
    zh: str
    en: str
    source: Source
    judgement: bool = False
    inputs: tuple[str, ...] = ()  # the facts it is computed from, in the order written
    depends_on: frozenset[str] = frozenset()  # …and the facts those depend on
    profile_inputs: frozenset[str] = frozenset()  # profile fields it reads, transitively
    review: ReviewRule = "never"
    may_need_review: bool = False
    depth: int = 0  # 0 for facts read from the profile, else 1 + the deepest input
    change: Change = "actionable"  # how a company can move it (`model.facts.Change`)
    values: frozenset[str] | None = None  # a code fact's declared values; None: not declared
    note: str | None = None
    where: Where = field(default=_UNWRITTEN, compare=False, repr=False)

    @property
    def source_kind(self) -> str:
        return self.source.kind

    @property
    def profile_fact(self) -> str | None:
        source = self.source
        return source.name if isinstance(source, ProfileFactSource) else None


# --- conditions ------------------------------------------------------------------------------


@record(kw_only=True)
class Group(Record):
    """`all`, `any` or `not` (one child) of other nodes."""

    kind: Literal["all", "any", "not"]
    children: tuple[Node, ...]
    label: str | None = None
    label_en: str | None = None
    article: str | None = None
    provenance: str | None = None
    note: str | None = None
    where: Where = field(default=_UNWRITTEN, compare=False, repr=False)


@record(kw_only=True)
class Comparison(Record):
    """A fact compared with an operand by one operator (`eq ne lt le gt ge between in not_in
    prefix_in contains within`)."""

    kind: ClassVar[str] = "leaf"
    fact: str
    op: str
    # Decimal (in the fact's unit), bool, str, DateBound; a (low, high) pair for `between`; a
    # frozenset for `in` / `not_in`; a tuple of upper-cased prefixes for `prefix_in`; the start
    # of the period (a DateBound before the evaluation date) for `within`.
    operand: object
    label: str | None = None
    label_en: str | None = None
    article: str | None = None
    provenance: str | None = None
    note: str | None = None
    written: object = field(default=None, compare=False, repr=False)  # the operand as written
    where: Where = field(default=_UNWRITTEN, compare=False, repr=False)

    children: ClassVar[tuple[()]] = ()


Node = Group | Comparison


@record
class Criterion(Record):
    """One root of a policy's criteria: its condition (`when`) or one of its exclusions
    (`unless`), which must be false for the policy to hold."""

    node: Node
    exclusion: bool = False


def comparisons(node: Node) -> Iterator[Comparison]:
    """The leaves of a tree, left to right."""
    if isinstance(node, Comparison):
        yield node
        return
    for child in node.children:
        yield from comparisons(child)


# --- benefits --------------------------------------------------------------------------------

_EXACT = Context(prec=200)  # products of amounts and rates, exact before the one rounding


@record
class Rounding(Record):
    """Amounts are rounded once, from the exact product, to `quantum` yuan (the fen), half up."""

    quantum: Decimal = Decimal("0.01")
    mode: str = ROUND_HALF_UP

    def apply(self, value: Decimal) -> Decimal:
        return value.quantize(self.quantum, rounding=self.mode)


@record
class Factor(Record):
    """What a base is multiplied by: `value`, which is the `rate` (rate_of, deduction, and
    yuan per unit for per_unit) or, for tax_rate, the `standard` rate minus the reduced `rate`."""

    value: Decimal
    rate: Decimal
    unit: Unit = Unit.RATIO  # or yuan per tonne / per m² (per_unit)
    standard: Decimal | None = None


@record
class BenefitPlan(Record):
    """What a policy pays when eligible, as data.

    `grant`: `fixed` yuan. `rate_of`, `deduction`, `per_unit`, `tax_rate`: the `base` fact times
    `factor`. `tiers`: the first of `bands` of the `by` fact that holds pays its amount, or its
    rate of `base`; a value in no band pays 0. A `tax_rate` with `bands` is progressive
    (超额累进): each band is a part of the base (above `low`, up to `high`) taxed at the band's
    reduced `rate`, so it saves Σ part × (standard − rate), exact and rounded once; the base
    above the last band saves nothing. Then `cap`, if any. `service`: nothing to pay
    (`amount_kind` none).
    """

    kind: str  # grant, rate_of, tiers, per_unit, tax_rate, deduction, service
    amount_kind: AmountKind
    zh: str
    en: str
    fixed: Decimal | None = None
    base: str | None = None
    factor: Factor | None = None
    by: str | None = None
    bands: tuple[Band, ...] = ()
    cap: Decimal | None = None
    rounding: Rounding = Rounding()
    reads: tuple[str, ...] = ()  # the facts it reads: `by`, then `base`
    provenance: str | None = None
    note: str | None = None
    where: Where = field(default=_UNWRITTEN, compare=False, repr=False)

    def times(self, base: Decimal, factor: Decimal) -> Decimal:
        """`base × factor` as paid: a negative base pays nothing; exact, then rounded once."""
        return self.rounding.apply(_EXACT.multiply(max(base, Decimal(0)), factor))

    @property
    def progressive(self) -> bool:
        return self.kind == "tax_rate" and bool(self.bands)

    def parts(self, base: Decimal) -> list[tuple[Band, Decimal]]:
        """A progressive tax rate's parts of `base` (negative: none), each with its band."""
        out = []
        for band in self.bands:
            low = band.low or Decimal(0)
            if base <= low:
                break
            out.append((band, min(base, band.high if band.high is not None else base) - low))
        return out

    def saving(self, base: Decimal) -> Decimal:
        """What a progressive tax rate saves on `base`: Σ part × (standard − rate), rounded once."""
        assert self.factor is not None and self.factor.standard is not None
        standard = self.factor.standard
        exact = sum(
            (_EXACT.multiply(part, standard - (band.rate or Decimal(0)))
             for band, part in self.parts(base)),
            Decimal(0),
        )  # fmt: skip
        return self.rounding.apply(exact)


# --- policies and the set --------------------------------------------------------------------


@record
class StackingPlan(Record):
    """The stacking group a policy belongs to and the group's rules."""

    group: str
    exclusive: bool = True
    cap: Decimal | None = None  # yuan, for the members together


@record
class GroupPlan(Record):
    """A stacking group: its members in the set's order, whether only the highest pays, and
    the cap on what the members pay together."""

    id: str
    members: tuple[str, ...]
    exclusive: bool
    cap: Decimal | None = None


@record
class Requirement(Record):
    """A document the enterprise must supply (shown, never evaluated)."""

    zh: str
    en: str


@record
class PolicyPlan(Record):
    """One policy, ready for every back end. See the module's docstring for the meaning of
    each part."""

    id: str
    title: str
    title_en: str
    document: str  # the id of the document it is written in
    source: SourceInfo  # citation and provenance (illustrative if any part of it is)
    effective: Period
    zones: frozenset[str]  # as written (the policy's, else its document's)
    applies_in: frozenset[str] | None  # every zone it applies in; None: everywhere
    criteria: tuple[Criterion, ...]
    benefit: BenefitPlan
    stacking: StackingPlan | None = None
    requires: tuple[Requirement, ...] = ()
    attaches: Attaches = "application"
    monotone: tuple[str, ...] = ()  # facts that, when larger, never lower what it pays
    reads: frozenset[str] = frozenset()  # the facts its criteria and benefit name
    depends_on: frozenset[str] = frozenset()  # …and every fact those are computed from
    note: str | None = None
    where: Where = field(default=_UNWRITTEN, compare=False, repr=False)

    def comparisons(self) -> Iterator[tuple[Comparison, bool]]:
        """Every leaf of the criteria, with whether it is inside an exclusion."""
        for criterion in self.criteria:
            for leaf in comparisons(criterion.node):
                yield leaf, criterion.exclusion

    def applies_to(self, zone: str) -> bool:
        """Whether the policy applies in a known zone."""
        return self.applies_in is None or zone in self.applies_in


@record
class SetPlan(Record):
    """A whole policy set: its policies in order, every fact (catalogue and documents), the
    stacking groups, and for each fact the policies that read it (directly or through a
    formula), in the set's order: what an update of that fact can change."""

    policies: tuple[PolicyPlan, ...]
    facts: Mapping[str, FactPlan]
    groups: Mapping[str, GroupPlan]
    readers: Mapping[str, tuple[str, ...]]

__all__ = [
    "ATTACHES",
    "FORMULA_KINDS",
    "READ_KINDS",
    "AmountKind",
    "Attaches",
    "AverageGrowthSource",
    "Band",
    "Basis",
    "BenefitPlan",
    "CagrSource",
    "CertificatesSource",
    "CertifiedSource",
    "Comparison",
    "Criterion",
    "DateBound",
    "Dates",
    "Duration",
    "FactPlan",
    "FactType",
    "Factor",
    "FieldSource",
    "FinancialSource",
    "Group",
    "GroupPlan",
    "GrowthSource",
    "IndustryShareSource",
    "IpCountSource",
    "MaxOfSource",
    "Node",
    "Path",
    "Period",
    "PointsSource",
    "PolicyPlan",
    "ProfileFactSource",
    "ProjectSource",
    "RatioSource",
    "RecordsSource",
    "Requirement",
    "ReviewRule",
    "Rounding",
    "SetPlan",
    "Source",
    "StackingPlan",
    "SumOfSource",
    "SumYearsSource",
    "Where",
    "comparisons",
    "first_band",
]
