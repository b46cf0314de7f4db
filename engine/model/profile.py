"""Enterprise profiles: what a company can state about itself. Every field is optional and an
absent field means *unknown*, never zero."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from ..errors import Problem, ProfileError
from .creditcode import credit_code_problem
from .industry import normalise_industry_code
from .units import Unit, UnitError, parse_quantity
from .yamlio import (
    Location,
    YamlError,
    line_of,
    load_yaml,
)


def _money(raw: object) -> object:
    """`1200万元`, `12000000`, Decimal or int → Decimal yuan; other units are refused."""
    if raw is None:
        return raw
    try:
        quantity = parse_quantity(raw)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    if quantity.unit not in (Unit.YUAN, Unit.NUMBER):
        raise ValueError(f"expected an amount in yuan (e.g. '1200万元'), got {raw!r}")
    return quantity.value


def _number(raw: object) -> object:
    if raw is None:
        return raw
    try:
        quantity = parse_quantity(raw)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    if quantity.unit not in (Unit.NUMBER, Unit.PERSON):
        raise ValueError(f"expected a plain number of persons, got {raw!r}")
    return quantity.value


Money = Annotated[Decimal, BeforeValidator(_money)]
Headcount = Annotated[Decimal, BeforeValidator(_number), Field(ge=0)]
NonNegativeMoney = Annotated[Money, Field(ge=0)]

ExtraFactValue = bool | date | Decimal | int | str | list[str]
# A plausible fiscal year, checked per key so that a bad year is reported alongside every
# other invalid field (a validator on the whole mapping would only run once the rest is valid).
FiscalYear = Annotated[int, Field(ge=1949, le=2200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FinancialYear(_Strict):
    """One fiscal (calendar) year, in yuan."""

    revenue: NonNegativeMoney | None = Field(None, description="销售收入 / sales revenue")
    total_income: NonNegativeMoney | None = Field(
        None, description="收入总额 / total income (HNTE 总收入)"
    )
    main_business_revenue: NonNegativeMoney | None = Field(None, description="主营业务收入")
    rd_expense: NonNegativeMoney | None = Field(None, description="研究开发费用总额")
    rd_expense_domestic: NonNegativeMoney | None = Field(None, description="境内研究开发费用")
    high_tech_revenue: NonNegativeMoney | None = Field(None, description="高新技术产品(服务)收入")
    total_cost: NonNegativeMoney | None = Field(None, description="成本费用支出总额")
    taxable_income: Money | None = Field(None, description="应纳税所得额 (may be negative)")
    tax_paid: NonNegativeMoney | None = Field(None, description="纳税总额")
    output_value: NonNegativeMoney | None = Field(None, description="产值")
    fixed_asset_investment: NonNegativeMoney | None = Field(None, description="固定资产投资")
    total_assets: NonNegativeMoney | None = Field(None, description="资产总额")
    total_liabilities: NonNegativeMoney | None = Field(None, description="负债总额")
    net_assets: Money | None = Field(None, description="净资产")


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
    issued: date
    expires: date | None = None
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
    granted: date | None = None

    @property
    def ip_class(self) -> str | None:
        if self.kind in CLASS_I_KINDS:
            return "I"
        if self.kind in CLASS_II_KINDS:
            return "II"
        return None


class ComplianceRecord(_Strict):
    occurred: date
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


class Project(_Strict):
    name: str
    kind: str | None = None
    investment: NonNegativeMoney | None = None
    equipment_investment: NonNegativeMoney | None = None
    start: date | None = None


class Profile(_Strict):
    """What an enterprise states about itself. Absent means unknown."""

    credit_code: str | None = Field(None, description="统一社会信用代码 (GB 32100-2015)")
    name: str | None = None
    synthetic: bool = Field(False, description="true for made-up example profiles")
    zone: str | None = Field(None, description="zone id, e.g. jinzhong-dz, guangling-etdz")
    registration_date: date | None = None
    industry_code: str | None = Field(None, description="GB/T 4754-2017, e.g. C4210")
    resident_enterprise: bool | None = Field(
        None, description="resident enterprise registered in mainland China"
    )
    audit_collection: bool | None = Field(None, description="查账征收 (tax assessed on accounts)")
    restricted_industry: bool | None = Field(
        None, description="in a restricted or prohibited industry (限制和禁止行业)"
    )
    employees: Headcount | None = Field(None, description="职工总数 (annual average)")
    tech_staff: Headcount | None = Field(None, description="科技人员 (annual average)")
    financials: dict[FiscalYear, FinancialYear] | None = None
    certifications: list[Certification] | None = None
    intellectual_property: list[IntellectualProperty] | None = None
    compliance: Compliance | None = None
    projects: list[Project] | None = None
    facts: dict[str, ExtraFactValue] = Field(
        default_factory=dict, description="zone-specific facts declared in the policy catalogue"
    )

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
            message = "unknown field (not part of the profile schema)"
        problems.append(Problem(message, file=file, line=line_of(lines, loc), field=field))
    return problems


def parse_profile(
    data: Any, *, file: str | None = None, lines: dict[Location, int] | None = None
) -> Profile:
    """Validate profile data; on failure raise ProfileError listing every invalid field."""
    if not isinstance(data, dict):
        raise ProfileError(
            f"{file or 'profile'}: a profile must be a mapping of fields, got {type(data).__name__}"
        )
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from(exc, file, lines or {})
        raise ProfileError(
            f"{file or 'profile'}: {len(problems)} invalid field(s)", problems
        ) from None


def load_profile(path: str | Path) -> Profile:
    """Read a profile from YAML (.yaml/.yml) or JSON (.json)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile {file}: {exc.strerror or exc}") from None
    lines: dict[Location, int] = {}
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"{file}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    else:
        try:
            data, lines = load_yaml(text)
        except YamlError as exc:
            where = f"{file}:{exc.line}" if exc.line else str(file)
            raise ProfileError(f"{where}: {exc}") from None
    return parse_profile(data, file=str(file), lines=lines)
