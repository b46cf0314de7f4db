"""Profile × policy evaluations: the reference evaluator beside a hand-written plain-Python
function of the HNTE rule (国科发火〔2016〕32号 第十一条), measured in one run.

    python benchmarks/bench_evaluator.py [--profiles 5000] [--seed 7] [--rounds 5]

Each figure is the time per profile-policy evaluation and its ratio to the hand-written
function's (lower is better; "3.0×" means three times as long), for the HNTE policy alone and
over the whole bundled library:
- hand-written: one Python function, three-valued, straight from the article;
- compiled closures: the engine's compiled condition trees (`when`, `unless`) and nothing else,
  one evaluation context per profile;
- evaluate(gaps=False): `PolicySet.evaluate` as screening and reactive sessions call it: typed
  results with verdict, amount after stacking, missing facts and facts awaiting review;
- evaluate(): the default, which adds for each ineligible policy what it would take to pass
  (and the opportunities): computed when read, so this row times a caller that reads only
  verdicts, amounts and missing facts;
- evaluate(), all read: the same with everything it adds read (gaps, opportunities, warnings);
- evaluate(explain=True): that and the evaluated condition tree of each policy, not read;
- evaluate(explain=True), all read: with the trees and the rest read;
- explain(), read: `PolicySet.explain`, the one result the `explain` command shows, its
  tree and gaps read.

The profiles are timed in chunks, each chunk several times per row, the rows interleaved, and
each row keeps its best time per chunk: a machine busy with other work then slows all rows
alike rather than whichever ran at the time. Times are the process's CPU time, which other
work on a shared machine hardly changes (wall-clock time there is several times longer).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from incentives.engine import PolicyResult, PolicySet, Profile, Report, parse_profile
from incentives.engine.reference.evaluate import CompiledPolicy, compile_policy
from incentives.engine.reference.logic import (
    FALSE,
    TRUE,
    UNKNOWN,
    Truth,
)

AS_OF = date(2026, 11, 24)
POLICY = "national.hnte.certification"
WAN = Decimal(10000)
CHUNK = 250


def synthetic_profiles(count: int, seed: int, unknown: float = 1 / 12) -> list[Profile]:
    """Seeded profiles with realistic spreads; about one field in twelve left unknown (the
    share `unknown`)."""
    rng = random.Random(seed)
    profiles = []
    for _ in range(count):
        revenue = Decimal(rng.randint(300, 40000)) * WAN
        intensity = Decimal(rng.randint(5, 90)) / 1000
        employees = rng.randint(10, 800)
        data: dict[str, object] = {
            "registration_date": date(rng.randint(2005, 2026), rng.randint(1, 12), 1),
            "resident_enterprise": rng.random() > 0.02,
            "employees": employees,
            "tech_staff": int(employees * rng.uniform(0.02, 0.4)),
            "financials": {
                year: {
                    "revenue": revenue * Decimal(rng.randint(70, 100)) / 100,
                    "total_income": revenue * Decimal(rng.randint(100, 110)) / 100,
                    "rd_expense": revenue * intensity,
                    "rd_expense_domestic": revenue
                    * intensity
                    * Decimal(rng.randint(40, 100))
                    / 100,
                    "high_tech_revenue": revenue * Decimal(rng.randint(20, 95)) / 100,
                }
                for year in (2023, 2024, 2025)
            },
            "intellectual_property": [
                {"kind": "invention_patent", "count": rng.randint(0, 3) or 1}
            ],
            "compliance": {"records": []},
            "facts": {
                "hnte_core_ip_role": rng.random() > 0.2,
                "hnte_key_field": rng.random() > 0.2,
                "hnte_innovation_score": rng.randint(50, 95),
            },
        }
        for key in list(data):
            if rng.random() < unknown:
                del data[key]
        profiles.append(parse_profile(data))
    return profiles


def _ge(value: Decimal | None, bound: Decimal) -> Truth:
    return UNKNOWN if value is None else (TRUE if value >= bound else FALSE)


def one_year_before(as_of: date) -> date:
    if as_of.month == 2 and as_of.day == 29:
        return as_of.replace(year=as_of.year - 1, day=28)
    return as_of.replace(year=as_of.year - 1)


INCIDENTS = ("safety_accident", "quality_accident", "environmental_violation")


def hand_written_hnte(profile: Profile, as_of: date) -> Truth:
    """第十一条 written by hand: what an engineer would code without the engine."""
    parts: list[Truth] = []
    parts.append(
        UNKNOWN if profile.resident_enterprise is None else Truth(2 * profile.resident_enterprise)
    )
    reg = profile.registration_date
    one_year = one_year_before(as_of)
    parts.append(UNKNOWN if reg is None else (TRUE if reg <= one_year else FALSE))
    ips = profile.intellectual_property
    owned = (
        None
        if ips is None
        else sum(i.count for i in ips if i.ip_class and i.acquisition != "licence")
    )
    parts.append(_ge(None if owned is None else Decimal(owned), Decimal(1)))
    for name in ("hnte_core_ip_role", "hnte_key_field"):
        value = profile.facts.get(name)
        parts.append(UNKNOWN if value is None else Truth(2 * bool(value)))
    staff, tech = profile.employees, profile.tech_staff
    parts.append(
        UNKNOWN
        if staff is None or tech is None or staff == 0
        else _ge(tech / staff, Decimal("0.1"))
    )
    last = as_of.year - 1
    fin = profile.financials or {}
    first = last - 2 if reg is None else max(last - 2, reg.year)
    years = [fin.get(y) for y in range(first, last + 1)]
    rev = [y.revenue if y else None for y in years]
    rd = [y.rd_expense if y else None for y in years]
    dom = [y.rd_expense_domestic if y else None for y in years]
    latest = fin.get(last)
    latest_rev = latest.revenue if latest else None
    if None in rev or None in rd or latest_rev is None or not years or sum(rev) == 0:  # type: ignore[arg-type]
        band = UNKNOWN
    else:
        ratio = sum(rd) / sum(rev)  # type: ignore[arg-type]
        need = (
            Decimal("0.05")
            if latest_rev <= 5000 * WAN
            else Decimal("0.04")
            if latest_rev <= 20000 * WAN
            else Decimal("0.03")
        )
        band = TRUE if ratio >= need else FALSE
    parts.append(band)
    if None in rd or None in dom or not years or sum(rd) == 0:  # type: ignore[arg-type]
        parts.append(UNKNOWN)
    else:
        parts.append(_ge(sum(dom) / sum(rd), Decimal("0.6")))  # type: ignore[arg-type]
    if latest is None or latest.high_tech_revenue is None or not latest.total_income:
        parts.append(UNKNOWN)
    else:
        parts.append(_ge(latest.high_tech_revenue / latest.total_income, Decimal("0.6")))
    score = profile.facts.get("hnte_innovation_score")
    parts.append(UNKNOWN if score is None else (TRUE if Decimal(str(score)) > 70 else FALSE))
    records = profile.compliance.records if profile.compliance else None
    incidents = (
        None
        if records is None
        else sum(
            1
            for r in records
            if r.severity in ("major", "serious")
            and r.kind in INCIDENTS
            and one_year < r.occurred <= as_of
        )
    )
    parts.append(UNKNOWN if incidents is None else (TRUE if incidents == 0 else FALSE))
    return min(parts)


def read_all(report: Report) -> Report:
    """Read what a report computes only when read: its warnings and opportunities, each
    result's gaps and trace."""
    report.warnings, report.opportunities  # noqa: B018
    for result in report.results:
        read_result(result)
    return report


def read_result(result: PolicyResult) -> PolicyResult:
    result.gaps, result.trace  # noqa: B018
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    policies = PolicySet()
    # The reference evaluator's closures, compiled from the plan as `PolicySet` compiles them.
    every = tuple(compile_policy(p, policies.plan.facts) for p in policies.policies)
    compiled = next(cp for cp in every if cp.id == POLICY)
    assert compiled.when is not None
    profiles = synthetic_profiles(args.profiles, args.seed)

    def closures(chosen: tuple[CompiledPolicy, ...]) -> Callable[[Profile], list[Truth]]:
        def run(profile: Profile) -> list[Truth]:
            ctx = policies.context(profile, AS_OF)
            truths = []
            for cp in chosen:
                truth = TRUE if cp.when is None else cp.when.fn(ctx)
                for exclusion in cp.unless:
                    truth = min(truth, exclusion.fn(ctx).negate())
                truths.append(truth)
            return truths

        return run

    hnte_closures = closures((compiled,))

    # Same verdicts first: a benchmark of two functions that disagree measures nothing.
    mismatches = sum(hnte_closures(p)[0] != hand_written_hnte(p, AS_OF) for p in profiles)
    print(
        f"{len(profiles)} synthetic profiles, seed {args.seed}, {AS_OF}; {POLICY}: "
        f"verdict mismatches with the hand-written function: {mismatches}"
    )

    library_closures = closures(every)
    rows: list[tuple[str, str, int, Callable[[Profile], object]]] = [
        ("hand-written function", "HNTE", 1, lambda p: hand_written_hnte(p, AS_OF)),
        ("compiled closures", "HNTE", 1, hnte_closures),
        (
            "evaluate(gaps=False)",
            "HNTE",
            1,
            lambda p: policies.evaluate(p, AS_OF, policy_ids=[POLICY], gaps=False),
        ),
        ("evaluate()", "HNTE", 1, lambda p: policies.evaluate(p, AS_OF, policy_ids=[POLICY])),
        (
            "evaluate(), all read",
            "HNTE",
            1,
            lambda p: read_all(policies.evaluate(p, AS_OF, policy_ids=[POLICY])),
        ),
        (
            "evaluate(explain=True)",
            "HNTE",
            1,
            lambda p: policies.evaluate(p, AS_OF, policy_ids=[POLICY], explain=True),
        ),
        (
            "evaluate(explain=True), all read",
            "HNTE",
            1,
            lambda p: read_all(policies.evaluate(p, AS_OF, policy_ids=[POLICY], explain=True)),
        ),
        ("explain(), read", "HNTE", 1, lambda p: read_result(policies.explain(p, POLICY, AS_OF))),
        ("compiled closures", "library", len(every), library_closures),
        (
            "evaluate(gaps=False)",
            "library",
            len(every),
            lambda p: policies.evaluate(p, AS_OF, gaps=False),
        ),
        ("evaluate()", "library", len(every), lambda p: policies.evaluate(p, AS_OF)),
        (
            "evaluate(), all read",
            "library",
            len(every),
            lambda p: read_all(policies.evaluate(p, AS_OF)),
        ),
    ]
    # Chunks of profiles, each timed `rounds` times for every row in turn, keeping each row's
    # best time per chunk: on a machine busy with other work a burst of load then costs a
    # row one slow sample, not its figure.
    seconds = [0.0] * len(rows)
    evaluations = [0] * len(rows)
    for first in range(0, len(profiles), CHUNK):
        chunk = profiles[first : first + CHUNK]
        for index, (_, _, per_profile, run) in enumerate(rows):
            # The library rows take ~40 times as long per profile: they get a tenth of each
            # chunk, and every figure is per profile-policy anyway.
            chosen = chunk if per_profile == 1 else chunk[: max(1, len(chunk) // 10)]
            best = float("inf")
            for _ in range(args.rounds):
                start = time.process_time()
                for profile in chosen:
                    run(profile)
                best = min(best, time.process_time() - start)
            seconds[index] += best
            evaluations[index] += len(chosen) * per_profile
    best = [t / n for t, n in zip(seconds, evaluations, strict=True)]
    baseline = best[0]
    print(f"{len(every)} policies in the library; best of {args.rounds} runs per chunk of {CHUNK}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print("| evaluator | policies | µs / profile-policy | evaluations/s | × hand-written |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (label, scope, _, _), per in zip(rows, best, strict=True):
        print(f"| {label} | {scope} | {per * 1e6:.1f} | {1 / per:,.0f} | {per / baseline:.2f} |")


if __name__ == "__main__":
    main()
