"""Enterprise profiles: what a company can state about itself. Every field is optional and an
absent field means *unknown*, never zero."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import Problem, ProfileError
from .creditcode import credit_code_problem
from .industry import normalise_industry_code
from .jsonio import JsonError, load_json
from .textio import DecodeError, decode
from .units import Day, Unit, UnitError, date_problem, parse_date, parse_quantity
from .yamlio import (
    MAX_FILE_BYTES,
    Location,
    YamlError,
    line_of,
    load_yaml,
    read_text,
)
from .years import FISCAL_YEARS as FISCAL_YEARS  # re-exported: read from here too


def _quantity_in(raw: object, units: tuple[Unit, ...], expected: str) -> object:
    """`raw` read as a quantity whose unit is one of `units`, as its value; else a refusal
    that says what was `expected`."""
    if raw is None:
        return raw
    try:
        quantity = parse_quantity(raw)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    if quantity.unit not in units:
        raise ValueError(f"{expected}, got {raw!r}")
    return quantity.value


def _money(raw: object) -> object:
    """`1200万元`, `12000000`, Decimal or int → Decimal yuan; other units are refused."""
    return _quantity_in(raw, (Unit.YUAN, Unit.NUMBER), "expected an amount in yuan (e.g. '1200万元')")


def _number(raw: object) -> object:
    return _quantity_in(raw, (Unit.NUMBER, Unit.PERSON), "expected a plain number of persons")


def _in_unit(unit: Unit, example: str) -> Any:
    """A validator for a quantity in `unit` (a plain number is taken in it), e.g. `3000吨`."""

    def read(raw: object) -> object:
        expected = f"expected a quantity in {unit.value} (e.g. {example!r})"
        return _quantity_in(raw, (unit, Unit.NUMBER), expected)

    read.__name__ = f"_{unit.name.lower()}"  # `compile.facts` reads the unit off the name
    return read


def _fact_value(raw: object) -> object:
    """One of the value types a declared fact can have, or a refusal that says which they are
    (rather than one error per branch of the union). A text written like a date is a date, in
    JSON as in YAML; a text that looks like a date but is not one is refused here."""
    if isinstance(raw, bool | int | date):
        return raw
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise ValueError(f"{raw} is not a usable number")
        return raw
    if isinstance(raw, str):
        problem = date_problem(raw.strip())
        if problem is not None:
            raise ValueError(problem)
        try:
            return parse_date(raw)
        except UnitError:
            return raw
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return raw
    kind = {dict: "a mapping", list: "a list with non-text items", float: "a float"}.get(
        type(raw), type(raw).__name__
    )
    raise ValueError(
        f"expected true/false, a number (with its unit), a date, a text or a list of texts; "
        f"got {kind}"
    )


Money = Annotated[Decimal, BeforeValidator(_money)]
Headcount = Annotated[Decimal, BeforeValidator(_number), Field(ge=0)]
NonNegativeMoney = Annotated[Money, Field(ge=0)]

ExtraFactValue = Annotated[
    bool | date | Decimal | int | str | list[str], BeforeValidator(_fact_value)
]
# A plausible fiscal year, checked per key so that a bad year is reported alongside every
# other invalid field (a validator on the whole mapping would only run once the rest is valid).
FiscalYear = Annotated[int, Field(ge=FISCAL_YEARS[0], le=FISCAL_YEARS[1])]


class _Strict(BaseModel):
    # Built on first validation: a one-profile command reads a plain profile without the
    # validators (`proven.proven_profile`), and never pays for building them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# Parts that cannot be larger than their whole, when both are stated: part → (whole, why). The
# only rules of the model across fields (the batch back end checks them across its columns).
PROFILE_PARTS = {
    "tech_staff": ("employees", "科技人员 are counted among 职工"),
    "rd_staff": ("employees", "研发人员 are counted among 职工"),
}
FINANCIAL_PARTS = {
    "main_business_revenue": ("revenue", "主营业务收入 is part of 销售收入"),
    "rd_expense_domestic": ("rd_expense", "境内研究开发费用 is part of 研究开发费用总额"),
    "rd_expensed": ("rd_expense", "the R&D expensed in the year is part of the year's 研究开发费用总额"),
    "rd_capitalised": (
        "rd_expense", "the R&D capitalised in the year is part of the year's 研究开发费用总额"
    ),
    "rd_expensed_q4": ("rd_expensed", "the fourth quarter's expensed R&D is part of the year's"),
}
# Parts that together cannot exceed their whole: whole → (parts, why). A yuan of the year's R&D
# is either expensed or capitalised, never both (2023年第7号's two bases).
FINANCIAL_SHARES = {
    "rd_expense": (
        ("rd_expensed", "rd_capitalised"),
        "R&D expensed and R&D capitalised in the year are two parts of its 研究开发费用总额",
    ),
}


def _part_of(value: Decimal | None, info: Any, whole: str, why: str) -> Decimal | None:
    """Refuse a part larger than its whole (both stated): no accounting makes that true."""
    total = info.data.get(whole)
    if value is not None and total is not None and value > total:
        raise ValueError(f"{value} is more than {whole} ({total}); {why}")
    return value


MAX_INDUSTRIES = 200  # industries in one year's income by industry, at most


class FinancialYear(_Strict):
    """One fiscal (calendar) year, in yuan."""

    revenue: NonNegativeMoney | None = Field(None, description="销售收入 / sales revenue")
    total_income: NonNegativeMoney | None = Field(
        None, description="收入总额 / total income (HNTE 总收入)"
    )
    main_business_revenue: NonNegativeMoney | None = Field(None, description="主营业务收入")
    # The year's R&D lines (see "R&D lines" in the README). rd_expense is the year's whole R&D
    # expense, 研究开发费用总额 as the HNTE and 科小 rules count it; the super-deduction reads its
    # parts: rd_expensed (未形成无形资产计入当期损益) now, rd_capitalised (形成无形资产) later, as
    # rd_amortisation of the years that amortise it. rd_expensed + rd_capitalised ≤ rd_expense.
    rd_expense: NonNegativeMoney | None = Field(
        None, description="研究开发费用总额 / the year's whole R&D expense (HNTE, 科小)"
    )
    rd_expense_domestic: NonNegativeMoney | None = Field(None, description="境内研究开发费用")
    rd_expensed: NonNegativeMoney | None = Field(
        None,
        description="未形成无形资产计入当期损益的研发费用 / R&D expensed in the year, on the "
        "super-deduction basis (the base of its additional deduction)",
    )
    rd_capitalised: NonNegativeMoney | None = Field(
        None,
        description="形成无形资产的研发费用 / R&D capitalised into intangible assets in the year "
        "(deducted through rd_amortisation, never in the year itself)",
    )
    rd_expensed_q4: NonNegativeMoney | None = Field(
        None,
        description="2022年10月1日至12月31日发生的费用化研发费用 / R&D expensed in the fourth "
        "quarter (read for tax year 2022 only: 2022年第28号)",
    )
    rd_amortisation: NonNegativeMoney | None = Field(
        None,
        description="本年度研发形成的无形资产的摊销额 / the year's amortisation of intangible assets "
        "formed by R&D in this or earlier years (the other base of the super-deduction)",
    )
    high_tech_revenue: NonNegativeMoney | None = Field(None, description="高新技术产品(服务)收入")
    total_cost: NonNegativeMoney | None = Field(None, description="成本费用支出总额")
    taxable_income: Money | None = Field(None, description="应纳税所得额 (may be negative)")
    tax_paid: NonNegativeMoney | None = Field(None, description="纳税总额")
    output_value: NonNegativeMoney | None = Field(None, description="产值")
    fixed_asset_investment: NonNegativeMoney | None = Field(None, description="固定资产投资")
    total_assets: NonNegativeMoney | None = Field(None, description="资产总额")
    total_liabilities: NonNegativeMoney | None = Field(None, description="负债总额")
    net_assets: Money | None = Field(None, description="净资产")
    # --- read by derived facts: exports, and income by industry (the 50% tests) -----------
    export_revenue: NonNegativeMoney | None = Field(None, description="出口销售额 / export sales")
    income_by_industry: dict[str, NonNegativeMoney] | None = Field(
        None,
        max_length=MAX_INDUSTRIES,
        description="the year's income by GB/T 4754 industry code (e.g. {C3976: 1200万元, "
        "F5191: 300万元}): 收入总额减除不征税收入和投资收益 split by the industry of the "
        "business it comes from; the shares of the excluded and the manufacturing industries "
        "are computed from it",
    )

    @field_validator("income_by_industry", mode="before")
    @classmethod
    def _industries(cls, value: object) -> object:
        return _by_industry(value)

    # Each figure is validated after those declared above it, so `info.data` holds the whole.
    @field_validator(*FINANCIAL_PARTS)
    @classmethod
    def _within_whole(cls, value: Decimal | None, info: Any) -> Decimal | None:
        return _part_of(value, info, *FINANCIAL_PARTS[info.field_name])

    @model_validator(mode="after")
    def _shares_within_whole(self) -> FinancialYear:
        for whole, (parts, why) in FINANCIAL_SHARES.items():
            total, stated = getattr(self, whole), [getattr(self, p) for p in parts]
            if total is not None and None not in stated and sum(stated) > total:
                written = " + ".join(f"{p} {v}" for p, v in zip(parts, stated, strict=True))
                raise ValueError(f"{written} is more than {whole} ({total}); {why}: correct one of the figures")
        return self


# The financial lines that are mappings, not amounts (every other line is an amount in yuan).
FINANCIAL_MAPPINGS = frozenset({"income_by_industry"})
AMOUNT_LINES = tuple(name for name in FinancialYear.model_fields if name not in FINANCIAL_MAPPINGS)


def _by_industry(value: object) -> object:
    """Income by industry with each code normalised (`4210` → `C4210`); two keys that are one
    code are refused rather than one silently replacing the other."""
    if not isinstance(value, dict):
        return value
    out: dict[str, object] = {}
    for raw, amount in value.items():
        code = normalise_industry_code(str(raw))
        if code in out:
            raise ValueError(f"industry {code} is given twice (as {raw!r} and another spelling)")
        out[code] = amount
    return out


CertificationKind = Literal[
    "hnte",  # 高新技术企业
    "tech_sme",  # 科技型中小企业
    "innovative_sme",  # 创新型中小企业
    "specialised_sme",  # 专精特新中小企业
    "little_giant",  # 专精特新"小巨人"
    "provincial_rd_centre",  # 省部级以上研发机构
]


class Certification(_Strict):
    kind: CertificationKind
    issued: Day
    expires: Day | None = None
    number: str | None = None

    @field_validator("expires")
    @classmethod
    def _after_issue(cls, value: date | None, info: Any) -> date | None:
        issued = info.data.get("issued")
        if value is not None and issued is not None and value < issued:
            raise ValueError(f"expires {value} is before issued {issued}")
        return value


IpKind = Literal[
    "invention_patent",
    "defence_patent",
    "plant_variety",
    "crop_variety",
    "new_drug",
    "tcm_protected_variety",
    "ic_layout_design",
    "utility_model",
    "design_patent",
    "software_copyright",
    "other_class_ii",
    "trademark",
]

# Ⅰ类 and Ⅱ类 as the HNTE guideline (国科发火〔2016〕195号) lists them; trademarks are neither.
CLASS_I_KINDS = frozenset(
    {
        "invention_patent",
        "defence_patent",
        "plant_variety",
        "crop_variety",
        "new_drug",
        "tcm_protected_variety",
        "ic_layout_design",
    }
)
CLASS_II_KINDS = frozenset(
    {"utility_model", "design_patent", "software_copyright", "other_class_ii"}
)


class IntellectualProperty(_Strict):
    kind: IpKind
    count: int = Field(1, ge=1)
    acquisition: Literal["self_developed", "transfer", "gift", "merger", "licence"] = (
        "self_developed"
    )
    main_product: bool | None = Field(
        None, description="relates to the main products (对主要产品发挥核心支持作用)"
    )
    granted: Day | None = None

    @property
    def ip_class(self) -> str | None:
        if self.kind in CLASS_I_KINDS:
            return "I"
        if self.kind in CLASS_II_KINDS:
            return "II"
        return None


class ComplianceRecord(_Strict):
    occurred: Day
    kind: Literal[
        "safety_accident",
        "quality_accident",
        "environmental_violation",
        "tax_violation",
        "research_misconduct",
        "other",
    ]
    severity: Literal["major", "serious", "general"]
    description: str | None = None


class Compliance(_Strict):
    tax_credit_rating: Literal["A", "B", "M", "C", "D"] | None = Field(
        None, description="纳税信用级别"
    )
    records: list[ComplianceRecord] | None = Field(
        None, description="accidents and violations; an empty list means none, absent means unknown"
    )
    abnormal_operations_list: bool | None = Field(None, description="列入经营异常名录")
    serious_dishonesty_list: bool | None = Field(None, description="列入严重违法失信名单")


Tonnes = Annotated[Decimal, BeforeValidator(_in_unit(Unit.TONNE, "3000吨")), Field(ge=0)]
Months = Annotated[Decimal, BeforeValidator(_in_unit(Unit.MONTH, "24个月")), Field(ge=0)]


class Project(_Strict):
    """An investment project of the enterprise. A policy about "the project" reads the one
    marked `applying: true`, or the only one listed (see `reference.context`)."""

    name: str
    kind: str | None = None
    investment: NonNegativeMoney | None = Field(None, description="计划总投资")
    equipment_investment: NonNegativeMoney | None = Field(None, description="设备购置额")
    start: Day | None = None
    applying: bool | None = Field(
        None, description="the project this application is about (when several are listed)"
    )
    construction_months: Months | None = Field(None, description="建设期, in months")
    capacity_tonnes: Tonnes | None = Field(None, description="设计年产能, tonnes a year")
    industrial: bool | None = Field(None, description="工业（制造业）项目")
    standard_land: bool | None = Field(None, description="以\"标准地\"方式供地")

    @field_validator("equipment_investment")
    @classmethod
    def _equipment_within_investment(cls, value: Decimal | None, info: Any) -> Decimal | None:
        return _part_of(value, info, "investment", "equipment is part of the project's investment")


class ProfileSource:
    """The file a profile was read from and where each of its fields is written."""

    __slots__ = ("file", "lines")

    def __init__(self, file: str, lines: Mapping[Location, int]) -> None:
        self.file = file
        self.lines = dict(lines)

    def problem(self, message: str, field: str | None) -> Problem:
        """A problem about `field` (a dotted path, `facts.x`), placed at its line."""
        steps = field.split(".") if field else []
        loc = [int(step) if step.isdigit() else step for step in steps]
        return Problem(message, file=self.file, line=line_of(self.lines, loc), field=field)


def profile_problem(profile: Profile, message: str, field: str | None = None) -> Problem:
    """A problem about one field of `profile`, placed at its file and line when the profile
    was read from a file. Without `field`, a message in the form `facts.x: …` names its own."""
    if field is None and message.startswith("facts.") and ": " in message:
        field, message = message.split(": ", 1)
    if profile.source is None:
        return Problem(message, field=field)
    return profile.source.problem(message, field)


class Profile(_Strict):
    """What an enterprise states about itself. Absent means unknown."""

    credit_code: str | None = Field(None, description="统一社会信用代码 (GB 32100-2015)")
    name: str | None = None
    synthetic: bool = Field(False, description="true for made-up example profiles")
    zone: str | None = Field(None, description="zone id, e.g. jinzhong-dz, guangling-etdz")
    registration_date: Day | None = None
    industry_code: str | None = Field(None, description="GB/T 4754-2017, e.g. C4210")
    resident_enterprise: bool | None = Field(
        None, description="resident enterprise registered in mainland China"
    )
    audit_collection: bool | None = Field(None, description="查账征收 (tax assessed on accounts)")
    restricted_industry: bool | None = Field(
        None, description="in a restricted or prohibited industry (限制和禁止行业)"
    )
    employees: Headcount | None = Field(
        None,
        description="职工总数: in post, part-time and temporary staff, as a monthly average over the "
        "year (HNTE, 科小)",
    )
    workforce: Headcount | None = Field(
        None,
        description="从业人数: staff under labour contracts plus dispatched workers (劳务派遣), as a "
        "quarterly average over the year (小型微利企业); not the same count as employees",
    )
    tech_staff: Headcount | None = Field(None, description="科技人员 (annual average)")
    rd_staff: Headcount | None = Field(None, description="研发人员 (annual average)")
    financials: dict[FiscalYear, FinancialYear] | None = None
    certifications: list[Certification] | None = None
    intellectual_property: list[IntellectualProperty] | None = None
    compliance: Compliance | None = None
    projects: list[Project] | None = None
    facts: dict[str, ExtraFactValue] = Field(
        default_factory=dict, description="zone-specific facts declared in the policy catalogue"
    )

    # Where the profile was read from, for messages about it (`ProfileSource`); never part of
    # what the profile says, so it takes no part in equality.
    _source: ProfileSource | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return self.__dict__ == other.__dict__

    @property
    def source(self) -> ProfileSource | None:
        return self._source

    @field_validator(*PROFILE_PARTS)
    @classmethod
    def _within_whole(cls, value: Decimal | None, info: Any) -> Decimal | None:
        return _part_of(value, info, *PROFILE_PARTS[info.field_name])

    @field_validator("credit_code", "industry_code", mode="before")
    @classmethod
    def _code_as_text(cls, value: object) -> object:
        # YAML and JSON read an unquoted code of digits (`4210`, a credit code of 18 digits) as
        # a number; its digits are the code. None is lost: neither code starts with 0, and
        # YAML refuses `0111` and JSON leading zeros.
        return str(value) if type(value) is int else value

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        problem = credit_code_problem(code)
        if problem:
            raise ValueError(f"{value!r} is not a valid unified social credit code: {problem}")
        return code

    @field_validator("industry_code")
    @classmethod
    def _industry(cls, value: str | None) -> str | None:
        return None if value is None else normalise_industry_code(value)



def _unknown_field(loc: list[Any]) -> str:
    """The message for a field the schema does not have, with the closest names it does."""
    model: type[BaseModel] | None = Profile
    for step in loc[:-1]:  # walk the schema down to the mapping that holds the unknown key
        if model is None or isinstance(step, int):
            continue  # a list index or a fiscal year: the items are of the same model
        field = model.model_fields.get(step)
        model = None if field is None else _inner_model(field.annotation)
    message = "unknown field (not part of the profile schema)"
    if model is not None and isinstance(loc[-1], str):
        close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=3, cutoff=0.6)
        if close:
            message += f"; did you mean {', '.join(close)}?"
    return message


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X | None`, `list[X]` or `dict[K, X]`, if any."""
    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            return current
        stack.extend(getattr(current, "__args__", ()))
    return None


def _problems_from(
    exc: ValidationError, file: str | None, lines: dict[Location, int]
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = [
            step
            for step in error["loc"]
            if not isinstance(step, str) or not step.startswith("function-")
        ]
        field = ".".join(str(step) for step in loc) or "(profile)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = _unknown_field(loc)
        problems.append(Problem(message, file=file, line=line_of(lines, loc), field=field))
    return problems


_KINDS = {list: "a list", str: "a text", bool: "true/false", int: "a number", Decimal: "a number"}


def parse_profile(
    data: Any, *, file: str | None = None, lines: dict[Location, int] | None = None
) -> Profile:
    """Validate profile data; on failure raise ProfileError listing every invalid field."""
    shown = file or "profile"
    if data is None:
        raise ProfileError(
            f"{shown}: the profile is empty; write its fields as a mapping, e.g. "
            "'name: 示例企业' and 'employees: 50' on lines of their own"
        )
    if not isinstance(data, dict):
        kind = _KINDS.get(type(data), type(data).__name__)
        raise ProfileError(
            f"{shown}:1: a profile must be a mapping of fields (name: value), got {kind}"
        )
    profile = _proven(data)
    if profile is None:
        try:
            profile = Profile.model_validate(data)
        except ValidationError as exc:
            problems = _problems_from(exc, file, lines or {})
            raise ProfileError(f"{shown}: {len(problems)} invalid field(s)", problems) from None
    if file is not None:
        profile._source = ProfileSource(file, lines or {})
    return profile


# Whether the process has read a profile yet: only its first is read by `proven` (see below).
_FIRST_PROFILE = [True]


def _proven(data: dict[Any, Any]) -> Profile | None:
    """The profile `Profile.model_validate(data)` gives, read without building the model's
    validators, for the first profile a process reads while they are not built; else None
    (also where the reader cannot prove it). The reader costs about two validations with the
    built validators, and building them a hundred or so: worth it for a command that reads one
    profile (`check`, `explain`), not for a session or a service reading many."""
    if not _FIRST_PROFILE[0] or Profile.__pydantic_complete__:
        return None
    _FIRST_PROFILE[0] = False
    from .proven import proven_profile

    return proven_profile(data)


def load_profile(path: str | Path, *, encoding: str | None = None) -> Profile:
    """Read a profile from YAML (.yaml/.yml, or any other name) or JSON (.json). The bytes are
    UTF-8 unless `encoding` says otherwise (a byte-order mark is accepted in either format)."""
    file = Path(path)
    try:
        text = read_text(file, encoding)
    except IsADirectoryError:
        raise ProfileError(f"{file} is a directory; give the path of a profile file") from None
    except OSError as exc:
        raise ProfileError(f"cannot read profile {file}: {exc.strerror or exc}") from None
    except YamlError as exc:  # not text in the encoding
        raise ProfileError(f"{file}:{exc.line}: {exc}") from None
    return profile_from_text(text, str(file), json=file.suffix.lower() == ".json")


def read_profile(stream: BinaryIO, *, name: str = "<stdin>", encoding: str | None = None) -> Profile:
    """Read a profile from a binary stream (standard input for `-`), YAML or JSON: JSON when
    its first character is `{` (a YAML profile never starts so), at most MAX_FILE_BYTES."""
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ProfileError(f"{name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not a profile")
    try:
        text = decode(data, name, encoding)
    except DecodeError as exc:
        raise ProfileError(exc.summary) from None
    return profile_from_text(text, name, json=text.lstrip("\ufeff \t\r\n").startswith("{"))


def profile_from_text(text: str, file: str, *, json: bool) -> Profile:
    """A profile from its text, JSON or YAML, every problem placed at its line in `file`."""
    lines: dict[Location, int] = {}
    if not text.strip():
        return parse_profile(None, file=file)
    if json:
        try:
            data = load_json(text)
        except JsonError as exc:
            where = f"{file}:{exc.line}" if exc.line else file
            raise ProfileError(f"{where}: {exc}") from None
        lines = _json_lines(text)
    else:
        try:
            data, lines = load_yaml(text)
        except YamlError as exc:
            where = f"{file}:{exc.line}" if exc.line else file
            raise ProfileError(f"{where}: {exc}") from None
    return parse_profile(data, file=file, lines=lines)


def _json_lines(text: str) -> dict[Location, int]:
    """Where each field of a JSON profile is written, for messages: JSON that `load_json`
    accepted is, but for rare escapes, YAML too, and the YAML reader records lines."""
    try:
        return load_yaml(text)[1]
    except YamlError:
        return {}
