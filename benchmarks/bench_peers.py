"""The HNTE rule (国科发火〔2016〕32号 第十一条) per profile: the engine beside Python-hosted rule
engines on the same rule, each as a ratio to a plain-float function of it in the same run.

    python -m benchmarks.bench_peers [--profiles 2000] [--rounds 5] [--venv .venv-peers]

The peers (zen-engine's decision table, json-logic, rule-engine) are installed, pinned, into
a virtual environment of their own (`--venv`, made on the first run with the engine beside
them; needs the package index), never into the project's, and every row runs there, in one
process: `make bench-peers`. Optional, and not part of the tests.

Every engine gets the same seeded profiles, complete (no unknown fields, since the peers are
two-valued) and registered before the evaluation year (so that no ratio divides by zero),
and must give the same verdicts as the engine's `evaluate` (mismatches are
printed and must be 0). The peers read each profile as a flat record of numbers and booleans,
made before the clock starts (the three-year sums included, as a caller of such an engine
would prepare them); the engine reads the parsed `Profile`, as `PolicySet.evaluate` does. The
rows:
- plain floats: the rule as one Python function of the flat record, two-valued floats: the
  floor, 1.00;
- hand-written three-valued Decimal: `bench_evaluator.hand_written_hnte` on the profile;
- evaluate(gaps=False): `PolicySet.evaluate` of the one policy: a typed result with its
  verdict, amount, missing facts and facts awaiting review;
- the peers, each on its own encoding of the rule, written below.

Times are CPU time, best of `--rounds` per chunk of profiles with the rows interleaved (as in
`bench_evaluator`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PEERS = ("zen-engine==2.1.3", "json-logic-modernized==1.0.1", "rule-engine==5.1.0")
CHUNK = 250
Record = dict[str, Any]

# --- the rule on a flat record: the plain-float function and each peer's encoding ------------

# R&D intensity by revenue band (第十一条（四）): ≤ 5000万 5%, ≤ 2亿 4%, above 3%.
BANDS = ((5e7, 0.05), (2e8, 0.04), (float("inf"), 0.03))


def plain_floats(r: Record) -> bool:
    need = next(share for ceiling, share in BANDS if r["latest_revenue"] <= ceiling)
    return (
        r["resident"]
        and r["registered"] <= r["cutoff"]
        and r["owned_ip"] >= 1
        and r["core_ip_role"]
        and r["key_field"]
        and r["tech_staff"] / r["employees"] >= 0.1
        and r["rd"] / r["revenue"] >= need
        and r["rd_domestic"] / r["rd"] >= 0.6
        and r["high_tech_revenue"] / r["total_income"] >= 0.6
        and r["innovation_score"] > 70
        and r["incidents"] == 0
    )


# The conditions every encoding shares, as (field expression, test); the band goes apart.
_COMMON = (
    ("resident", "== true"),
    ("registered - cutoff", "<= 0"),
    ("owned_ip", ">= 1"),
    ("core_ip_role", "== true"),
    ("key_field", "== true"),
    ("tech_staff / employees", ">= 0.1"),
    ("rd_domestic / rd", ">= 0.6"),
    ("high_tech_revenue / total_income", ">= 0.6"),
    ("innovation_score", "> 70"),
    ("incidents", "== 0"),
)


def zen_decision() -> Callable[[Record], bool]:
    """A decision table, hit policy first: one rule per revenue band with every condition,
    then a default rule."""
    import zen  # type: ignore[import-not-found]  # the peers live in their own venv

    inputs = [{"id": f"i{n}", "name": f, "field": f} for n, (f, _) in enumerate(_COMMON)]
    inputs += [
        {"id": "band", "name": "latest_revenue", "field": "latest_revenue"},
        {"id": "intensity", "name": "rd / revenue", "field": "rd / revenue"},
    ]
    output = {"id": "out", "name": "eligible", "field": "eligible"}
    rules: list[dict[str, str]] = []
    low = 0.0
    for ceiling, share in BANDS:
        rule = {"_id": f"r{len(rules)}", "out": "true", "intensity": f">= {share}"}
        rule |= {f"i{n}": test.removeprefix("== ") for n, (_, test) in enumerate(_COMMON)}
        rule["band"] = f"> {low}" if ceiling == float("inf") else f"({low}..{ceiling}]"
        rules.append(rule)
        low = ceiling
    rules.append({"_id": "otherwise", "out": "false"})
    table = {"hitPolicy": "first", "inputs": inputs, "outputs": [output], "rules": rules}
    at = {"x": 0, "y": 0}
    content = {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "request", "position": at},
            {"id": "t", "type": "decisionTableNode", "name": "hnte", "position": at,
             "content": table},
            {"id": "res", "type": "outputNode", "name": "response", "position": at},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "t", "type": "edge"},
            {"id": "e2", "sourceId": "t", "targetId": "res", "type": "edge"},
        ],
    }  # fmt: skip
    decision = zen.ZenEngine().create_decision(json.dumps(content))
    return lambda r: bool(decision.evaluate(r)["result"]["eligible"])


def json_logic() -> Callable[[Record], bool]:
    from json_logic import jsonLogic  # type: ignore[import-not-found]

    def var(name: str) -> dict[str, str]:
        return {"var": name}

    def ratio(top: str, bottom: str) -> dict[str, Any]:
        return {"/": [var(top), var(bottom)]}

    intensity = ratio("rd", "revenue")
    band = {"if": [
        {"<=": [var("latest_revenue"), BANDS[0][0]]}, {">=": [intensity, BANDS[0][1]]},
        {"<=": [var("latest_revenue"), BANDS[1][0]]}, {">=": [intensity, BANDS[1][1]]},
        {">=": [intensity, BANDS[2][1]]},
    ]}  # fmt: skip
    rule = {"and": [
        {"==": [var("resident"), True]},
        {"<=": [var("registered"), var("cutoff")]},
        {">=": [var("owned_ip"), 1]},
        {"==": [var("core_ip_role"), True]},
        {"==": [var("key_field"), True]},
        {">=": [ratio("tech_staff", "employees"), 0.1]},
        band,
        {">=": [ratio("rd_domestic", "rd"), 0.6]},
        {">=": [ratio("high_tech_revenue", "total_income"), 0.6]},
        {">": [var("innovation_score"), 70]},
        {"==": [var("incidents"), 0]},
    ]}  # fmt: skip
    return lambda r: bool(jsonLogic(rule, r))


def rule_engine() -> Callable[[Record], bool]:
    import rule_engine as re_  # type: ignore[import-not-found]

    common = " and ".join(f"({field} {test})" for field, test in _COMMON)
    (c1, s1), (c2, s2), (_, s3) = BANDS
    band = (
        f"(latest_revenue <= {c1:.0f} ? rd / revenue >= {s1} : "
        f"(latest_revenue <= {c2:.0f} ? rd / revenue >= {s2} : rd / revenue >= {s3}))"
    )
    rule = re_.Rule(f"{common} and {band}")
    return lambda r: bool(rule.matches(r))


ENCODINGS: Mapping[str, Callable[[], Callable[[Record], bool]]] = {
    "zen-engine (decision table)": zen_decision,
    "json-logic": json_logic,
    "rule-engine": rule_engine,
}


# --- timing ----------------------------------------------------------------------------------


def timed(rows: Mapping[str, Callable[[Any], object]], inputs: Mapping[str, list[Any]],
          rounds: int) -> dict[str, float]:  # fmt: skip
    """CPU seconds per call of each row on its inputs: chunks of them, each chunk `rounds`
    times for every row in turn, each row's best time per chunk (as `bench_evaluator`)."""
    seconds = dict.fromkeys(rows, 0.0)
    count = len(next(iter(inputs.values())))
    for first in range(0, count, CHUNK):
        for name, run in rows.items():
            chunk = inputs[name][first : first + CHUNK]
            best = float("inf")
            for _ in range(rounds):
                start = time.process_time()
                for item in chunk:
                    run(item)
                best = min(best, time.process_time() - start)
            seconds[name] += best
    return {name: total / count for name, total in seconds.items()}


# --- profiles, records, the run and the table ------------------------------------------------


def flat_record(profile: Any, as_of: Any) -> Record:
    """A complete profile as the flat record the peers read (the years the rule sums
    included: the three before the evaluation date, or fewer for a young enterprise)."""
    from benchmarks.bench_evaluator import INCIDENTS, one_year_before

    last = as_of.year - 1
    fin, reg = profile.financials, profile.registration_date
    years = [fin[y] for y in range(max(last - 2, reg.year), last + 1)]
    cutoff = one_year_before(as_of)
    records = profile.compliance.records
    return {
        "resident": profile.resident_enterprise,
        "registered": reg.toordinal(),
        "cutoff": cutoff.toordinal(),
        "owned_ip": int(sum(
            i.count for i in profile.intellectual_property
            if i.ip_class and i.acquisition != "licence"
        )),
        "core_ip_role": profile.facts["hnte_core_ip_role"],
        "key_field": profile.facts["hnte_key_field"],
        "employees": int(profile.employees),
        "tech_staff": int(profile.tech_staff),
        "revenue": float(sum(y.revenue for y in years)),
        "rd": float(sum(y.rd_expense for y in years)),
        "rd_domestic": float(sum(y.rd_expense_domestic for y in years)),
        "latest_revenue": float(fin[last].revenue),
        "high_tech_revenue": float(fin[last].high_tech_revenue),
        "total_income": float(fin[last].total_income),
        "innovation_score": float(profile.facts["hnte_innovation_score"]),
        "incidents": sum(
            1 for r in records
            if r.severity in ("major", "serious") and r.kind in INCIDENTS
            and cutoff < r.occurred <= as_of
        ),
    }  # fmt: skip


ROOT = Path(__file__).resolve().parent.parent


def peer_python(venv: Path) -> Path:
    """The peers' environment's interpreter, made on the first run: the peers, pinned, and
    this project without its extras (so that every row runs in one process)."""
    python = venv.resolve() / "bin" / "python"
    if not python.exists():
        print(f"installing {', '.join(PEERS)} and the engine into {venv} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS, "-e", str(ROOT)],
                       check=True)  # fmt: skip
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--venv", type=Path, default=Path(".venv-peers"))
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)  # in the venv
    args = parser.parse_args()
    if args.inside:
        run(args.profiles, args.seed, args.rounds)
        return
    python = peer_python(args.venv)
    subprocess.run(
        [str(python), "-m", "benchmarks.bench_peers", "--inside", "--profiles",
         str(args.profiles), "--seed", str(args.seed), "--rounds", str(args.rounds)],
        check=True, cwd=ROOT,
    )  # fmt: skip


def run(count: int, seed: int, rounds: int) -> None:
    """Every row in this process (the peers' environment), interleaved, and the table."""
    from benchmarks.bench_evaluator import AS_OF, POLICY, hand_written_hnte, synthetic_profiles
    from incentives.engine import PolicySet, Status

    policies = PolicySet()
    # Complete profiles with figures for at least one year: a two-valued rule has no answer
    # for the others (its ratios would divide by zero).
    profiles = [
        p
        for p in synthetic_profiles(count, seed, unknown=0.0)
        if p.registration_date is not None and p.registration_date.year < AS_OF.year
    ]
    records = [flat_record(p, AS_OF) for p in profiles]

    def engine(profile: Any) -> bool:
        report = policies.evaluate(profile, AS_OF, policy_ids=[POLICY], gaps=False)
        return report.results[0].status is Status.ELIGIBLE

    rows: dict[str, Callable[[Any], object]] = {
        "plain floats": plain_floats,
        "hand-written three-valued Decimal": lambda p: hand_written_hnte(p, AS_OF) == 2,
        "evaluate(gaps=False)": engine,
    }
    rows |= {name: make() for name, make in ENCODINGS.items()}
    on_profiles = ("hand-written three-valued Decimal", "evaluate(gaps=False)")
    inputs = {name: profiles if name in on_profiles else records for name in rows}
    eligible = [engine(p) for p in profiles]  # what every row must say
    mismatches = {
        name: sum(bool(row(x)) != e for x, e in zip(inputs[name], eligible, strict=True))
        for name, row in rows.items()
    }
    times = timed(rows, inputs, rounds)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{len(profiles)} of {count} complete synthetic profiles (registered before "
          f"{AS_OF.year}), seed {seed}, {AS_OF}, {POLICY} ({sum(eligible) / len(eligible):.0%} "
          f"eligible); best of {rounds} per chunk of {CHUNK}; load average {load}")  # fmt: skip
    print("| evaluator | µs / profile | × plain floats | verdict mismatches |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in times.items():
        ratio = seconds / times["plain floats"]
        print(f"| {name} | {seconds * 1e6:.1f} | {ratio:.1f} | {mismatches[name]} |")
    ours = times["evaluate(gaps=False)"]
    print("evaluate(gaps=False) as a share of each peer's time: " + ", ".join(
        f"{name} {ours / times[name]:.2f}×" for name in ENCODINGS
    ))  # fmt: skip


if __name__ == "__main__":
    main()
