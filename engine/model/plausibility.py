"""Warnings about profiles that can be true but probably are not, on a given evaluation date.

What cannot be true at all (more 科技人员 than 职工, a part larger than its whole, a negative
headcount, a certificate that expires before it is issued) is refused when the profile is read
(`engine.model.profile`). What is merely unlikely, or wrong only relative to the evaluation date,
is evaluated as stated and flagged here, so that whoever reads the verdicts also reads why they
may rest on a typing mistake.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from ..errors import Problem
from .profile import FinancialYear, Profile

# R&D above this multiple of the year's revenue is flagged: start-ups and biotech firms do spend
# several times their revenue, a factor of ten is far more often a 万元/元 slip.
RD_REVENUE_FACTOR = Decimal(10)


def profile_warnings(profile: Profile, as_of: date) -> list[Problem]:
    """The implausible statements of `profile` on `as_of`, each with its field (and, for a
    profile read from a file, its file and line)."""
    found = [
        *_date_warnings(profile, as_of),
        *_year_warnings(profile, as_of),
        *(w for year, record in sorted((profile.financials or {}).items())
          for w in _financial_warnings(year, record)),
    ]  # fmt: skip
    source = profile.source
    if source is None:
        return [Problem(message, field=field) for field, message in found]
    return [source.problem(message, field) for field, message in found]


def _date_warnings(profile: Profile, as_of: date) -> Iterator[tuple[str, str]]:
    after = f"is after the evaluation date {as_of}"
    registered = profile.registration_date
    if registered is not None and registered > as_of:
        yield "registration_date", f"{registered} {after}: the enterprise did not exist yet"
    for i, cert in enumerate(profile.certifications or ()):
        if cert.issued > as_of:
            yield f"certifications.{i}.issued", f"{cert.issued} {after}"
    for i, ip in enumerate(profile.intellectual_property or ()):
        if ip.granted is not None and ip.granted > as_of:
            yield f"intellectual_property.{i}.granted", f"{ip.granted} {after}"
    records = profile.compliance.records if profile.compliance is not None else None
    for i, record in enumerate(records or ()):
        if record.occurred > as_of:
            yield f"compliance.records.{i}.occurred", f"{record.occurred} {after}"


def _year_warnings(profile: Profile, as_of: date) -> Iterator[tuple[str, str]]:
    registered = profile.registration_date
    for year in sorted(profile.financials or {}):
        if year >= as_of.year:
            yield (
                f"financials.{year}",
                f"fiscal year {year} has not ended on {as_of}; policies read completed years "
                f"(the last one is {as_of.year - 1})",
            )
        elif registered is not None and year < registered.year:
            yield (
                f"financials.{year}",
                f"fiscal year {year} is before the enterprise was registered ({registered})",
            )


def _financial_warnings(year: int, record: FinancialYear) -> Iterator[tuple[str, str]]:
    yield from _rd_warnings(f"financials.{year}", record)
    yield from _income_warnings(f"financials.{year}", record)
    yield from _balance_warnings(f"financials.{year}", record)


def _rd_warnings(where: str, record: FinancialYear) -> Iterator[tuple[str, str]]:
    rd, revenue, costs = record.rd_expense, record.revenue, record.total_cost
    if rd is None:
        return
    if revenue is not None and revenue > 0 and rd > revenue * RD_REVENUE_FACTOR:
        yield (
            f"{where}.rd_expense",
            f"R&D {rd} is more than {RD_REVENUE_FACTOR} times revenue {revenue}; "
            "check the unit (元 or 万元)",
        )
    if costs is not None and rd > costs:
        yield (
            f"{where}.rd_expense",
            f"R&D {rd} is more than total costs {costs} (成本费用支出总额), which include "
            "expensed R&D",
        )


def _income_warnings(where: str, record: FinancialYear) -> Iterator[tuple[str, str]]:
    income = record.total_income
    if income is None:
        return
    for line, name in (("revenue", "销售收入"), ("high_tech_revenue", "高新技术产品(服务)收入")):
        part = getattr(record, line)
        if part is not None and part > income:
            yield (
                f"{where}.{line}",
                f"{line} {part} is more than total_income {income}; 收入总额 includes {name}",
            )


def _balance_warnings(where: str, record: FinancialYear) -> Iterator[tuple[str, str]]:
    assets, liabilities, net = record.total_assets, record.total_liabilities, record.net_assets
    if assets is None or liabilities is None or net is None:
        return
    if net != assets - liabilities:
        yield (
            f"{where}.net_assets",
            f"net assets {net} differ from total assets minus total liabilities "
            f"({assets - liabilities})",
        )
