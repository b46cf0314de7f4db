"""Example cases next to the policies: `<document>.cases.yaml` files, run against a policy set.

A case file holds optional `defaults` (an `as_of` date, a `tax_year`, and a base `profile`) and a
list of `cases`; each case names a policy, an evaluation date (and a tax year for tax-year
preferences: by default the year before the date; a case's own `as_of` drops the default
`tax_year`), an inline profile (deep-merged over the
default one: mappings merge, lists and scalars replace, `null` removes a field) and the
expected verdict, and where relevant the expected amount in yuan (`10万元`) and the facts an
undetermined verdict must ask for. Every policy of the set should have at least one eligible,
one ineligible and one undetermined (or needs-review) case; `coverage_problems` says which
do not.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..compile.loader import CASES_SUFFIX
from ..errors import InputError, Problem
from ..model.profile import FISCAL_YEARS, Profile, parse_profile
from ..model.units import Day, UnitError, format_money, parse_quantity
from ..model.yamlio import YamlError, line_of, load_yaml, read_text
from ..policyset import PolicySet
from ..reference.results import PolicyResult, Status
from .findings import Finding


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Model):
    status: Status
    amount: str | int | None = Field(None, description="e.g. '10万元'; the amount after its cap")
    missing: list[str] | None = Field(None, description="facts an undetermined verdict names")


TaxYear = Annotated[int, Field(ge=FISCAL_YEARS[0], le=FISCAL_YEARS[1])]


class Case(_Model):
    name: str
    policy: str
    as_of: Day | None = None
    tax_year: TaxYear | None = Field(None, description="default: the year before as_of")
    profile: dict[str, Any] = Field(default_factory=dict)
    expect: Expect


class Defaults(_Model):
    as_of: Day | None = None
    tax_year: TaxYear | None = None
    profile: dict[str, Any] = Field(default_factory=dict)


class CaseFile(_Model):
    defaults: Defaults = Defaults()
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    file: str
    line: int | None
    case: Case
    failures: tuple[str, ...]
    result: PolicyResult | None = None  # with its trace
    profile: Profile | None = None  # as evaluated (for `coverage`)
    as_of: date | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def merge(base: Any, override: Any) -> Any:
    """Deep merge for case profiles: mappings merge key by key, `None` removes a key."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge(merged.get(key), value)
    return merged


def case_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob(f"*{CASES_SUFFIX}") if p.is_file())


def run_cases(policy_set: PolicySet, directory: Path) -> list[CaseResult]:
    """Run every case file under `directory`; raise InputError if a file cannot be read."""
    problems: list[Problem] = []
    results: list[CaseResult] = []
    for path in case_files(directory):
        shown = str(path.relative_to(directory.parent))
        try:
            data, lines = load_yaml(read_text(path, encoding_option=False))
            spec = CaseFile.model_validate(data)
        except YamlError as exc:
            problems.append(Problem(str(exc), file=shown, line=exc.line))
            continue
        except OSError as exc:
            problems.append(Problem(f"cannot read: {exc.strerror or exc}", file=shown))
            continue
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(map(str, error["loc"]))
                line = line_of(lines, list(error["loc"]))
                problems.append(
                    Problem(error["msg"].removeprefix("Value error, "), file=shown, line=line, field=field)
                )
            continue
        for index, case in enumerate(spec.cases):
            line = line_of(lines, ("cases", index))
            results.append(_run(policy_set, spec.defaults, case, shown, line))
    if problems:
        raise InputError(f"{len(problems)} problem(s) in case files", problems)
    return results


def _run(
    policy_set: PolicySet, defaults: Defaults, case: Case, file: str, line: int | None
) -> CaseResult:
    as_of = case.as_of or defaults.as_of
    if as_of is None:
        return CaseResult(file, line, case, ("no as_of date (in the case or its defaults)",))
    try:
        profile = parse_profile(merge(defaults.profile, case.profile), file=file)
        policy_set.get(case.policy)
        tax_year = case.tax_year or (defaults.tax_year if case.as_of is None else None)
        report = policy_set.evaluate(
            profile, as_of, tax_year=tax_year, policy_ids=[case.policy], explain=True
        )
    except InputError as exc:
        return CaseResult(file, line, case, (exc.render(),))
    result = report.results[0]
    failures = tuple(_compare(case.expect, result))
    return CaseResult(file, line, case, failures, result, profile, as_of)


def _compare(expect: Expect, result: PolicyResult) -> list[str]:
    failures = []
    if result.status is not expect.status:
        why = ""
        if result.gaps:
            why = "; failing: " + ", ".join(g.fact for g in result.gaps)
        elif result.missing or result.review:
            why = "; missing: " + ", ".join(result.missing + result.review)
        failures.append(f"status {result.status.value}, expected {expect.status.value}{why}")
    if expect.amount is not None:
        try:
            wanted = parse_quantity(expect.amount).value
        except UnitError as exc:
            return [*failures, f"expected amount: {exc}"]
        if result.amount != wanted:
            got = "none" if result.amount is None else format_money(result.amount, "en")
            failures.append(f"amount {got}, expected {format_money(wanted, 'en')}")
    if expect.missing is not None and sorted(expect.missing) != sorted(
        result.missing + result.review
    ):
        failures.append(
            f"missing {sorted(result.missing + result.review)}, expected {sorted(expect.missing)}"
        )
    return failures


UNDETERMINED = frozenset({Status.UNDETERMINED, Status.NEEDS_REVIEW})


def coverage_problems(policy_set: PolicySet, results: list[CaseResult]) -> list[str]:
    """Policies without an eligible, an ineligible and an undetermined example case."""
    seen: dict[str, set[Status]] = {}
    for outcome in results:
        seen.setdefault(outcome.case.policy, set()).add(outcome.case.expect.status)
    problems = []
    for policy in policy_set.policies:
        statuses = seen.get(policy.id, set())
        lacking = [
            name
            for name, wanted in (
                ("eligible", {Status.ELIGIBLE}),
                ("ineligible", {Status.INELIGIBLE}),
                ("undetermined", UNDETERMINED),
            )
            if statuses.isdisjoint(wanted)
        ]
        if lacking:
            problems.append(f"{policy.id}: no {', no '.join(lacking)} case")
    return problems


def case_findings(policy_set: PolicySet, results: list[CaseResult]) -> list[Finding]:
    """Failing cases (a case naming a policy the set lacks: `case-unknown-policy`; a verdict,
    amount or missing list other than expected: `case-mismatch`) and policies whose cases do not
    cover every verdict (`case-coverage`), as findings."""
    known = {plan.id for plan in policy_set.policies}
    found = []
    for outcome in results:
        if outcome.passed:
            continue
        code = "case-unknown-policy" if outcome.case.policy not in known else "case-mismatch"
        message = f"case {outcome.case.name!r}: " + "; ".join(outcome.failures)
        found.append(Finding("error", code, message, outcome.case.policy, outcome.file, outcome.line))
    for problem in coverage_problems(policy_set, results):
        found.append(Finding("error", "case-coverage", problem, problem.split(":", 1)[0]))
    return found
