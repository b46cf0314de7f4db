"""Warnings about profiles that can be true but probably are not, on a given evaluation date.

What cannot be true at all (more 科技人员 than 职工, a part larger than its whole, a negative
headcount, a certificate that expires before it is issued) is refused when the profile is read
(`engine.model.profile`). What is merely unlikely, or wrong only relative to the evaluation date,
is evaluated as stated and flagged here, so that whoever reads the verdicts also reads why they
may rest on a typing mistake.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ..errors import Problem
from .profile import FinancialYear, Profile

# R&D above this multiple of the year's revenue is flagged: start-ups and biotech firms do spend
# several times their revenue, a factor of ten is far more often a 万元/元 slip.
RD_REVENUE_FACTOR = Decimal(10)


Found = list[tuple[str, str]]  # (field, message) pairs, in the order they are found


def profile_warnings(profile: Profile, as_of: date) -> list[Problem]:
    """The implausible statements of `profile` on `as_of`, each with its field (and, for a
    profile read from a file, its file and line). Checks append to one list and word a
    warning only when they find one: most profiles warn of nothing."""
    found: Found = []
    _date_warnings(found, profile, as_of)
    financials = profile.financials
    if financials:
        years = sorted(financials)
        _year_warnings(found, years, profile.registration_date, as_of)
        for year in years:
            record = financials[year]
            _rd_warnings(found, year, record)
            _income_warnings(found, year, record)
            _balance_warnings(found, year, record)
    if not found:
        return []
    source = profile.source
    if source is None:
        return [Problem(message, field=field) for field, message in found]
    return [source.problem(message, field) for field, message in found]


def _after(day: date, as_of: date) -> str:
    return f"{day} is after the evaluation date {as_of}"


def _date_warnings(found: Found, profile: Profile, as_of: date) -> None:
    registered = profile.registration_date
    if registered is not None and registered > as_of:
        found.append(("registration_date",
                      f"{_after(registered, as_of)}: the enterprise did not exist yet"))  # fmt: skip
    for i, cert in enumerate(profile.certifications or ()):
        if cert.issued > as_of:
            found.append((f"certifications.{i}.issued", _after(cert.issued, as_of)))
    for i, ip in enumerate(profile.intellectual_property or ()):
        if ip.granted is not None and ip.granted > as_of:
            found.append((f"intellectual_property.{i}.granted", _after(ip.granted, as_of)))
    records = profile.compliance.records if profile.compliance is not None else None
    for i, record in enumerate(records or ()):
        if record.occurred > as_of:
            found.append((f"compliance.records.{i}.occurred", _after(record.occurred, as_of)))


def _year_warnings(found: Found, years: list[int], registered: date | None, as_of: date) -> None:
    for year in years:
        if year >= as_of.year:
            found.append((
                f"financials.{year}",
                f"fiscal year {year} has not ended on {as_of}; policies read completed years "
                f"(the last one is {as_of.year - 1})",
            ))  # fmt: skip
        elif registered is not None and year < registered.year:
            found.append((
                f"financials.{year}",
                f"fiscal year {year} is before the enterprise was registered ({registered})",
            ))  # fmt: skip


def _rd_warnings(found: Found, year: int, record: FinancialYear) -> None:
    rd = record.rd_expense
    if rd is None:
        return
    revenue, costs = record.revenue, record.total_cost
    if revenue is not None and revenue > 0 and rd > revenue * RD_REVENUE_FACTOR:
        found.append((
            f"financials.{year}.rd_expense",
            f"R&D {rd} is more than {RD_REVENUE_FACTOR} times revenue {revenue}; "
            "check the unit (元 or 万元)",
        ))  # fmt: skip
    if costs is not None and rd > costs:
        found.append((
            f"financials.{year}.rd_expense",
            f"R&D {rd} is more than total costs {costs} (成本费用支出总额), which include "
            "expensed R&D",
        ))  # fmt: skip


# The parts of 收入总额 a profile states: the line, and its name in the statements.
_INCOME_PARTS = (("revenue", "销售收入"), ("high_tech_revenue", "高新技术产品(服务)收入"))


def _income_warnings(found: Found, year: int, record: FinancialYear) -> None:
    income = record.total_income
    if income is None:
        return
    for line, name in _INCOME_PARTS:
        part = getattr(record, line)
        if part is not None and part > income:
            found.append((
                f"financials.{year}.{line}",
                f"{line} {part} is more than total_income {income}; 收入总额 includes {name}",
            ))  # fmt: skip


def _balance_warnings(found: Found, year: int, record: FinancialYear) -> None:
    assets, liabilities, net = record.total_assets, record.total_liabilities, record.net_assets
    if assets is None or liabilities is None or net is None:
        return
    if net != assets - liabilities:
        found.append((
            f"financials.{year}.net_assets",
            f"net assets {net} differ from total assets minus total liabilities "
            f"({assets - liabilities})",
        ))  # fmt: skip
