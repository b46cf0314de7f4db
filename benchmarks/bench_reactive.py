"""Reactive mode figures: updates per second and memory per enterprise.

10,000 enterprises (default) × the bundled policy library. Each enterprise first gets a whole
profile, then a stream of single-field updates (`set` / `retract`) hits random enterprises.
The baseline, measured in the same run, replays the stream against the reference evaluator:
merge the update, validate the whole profile, re-evaluate every policy, diff the verdicts. Then
a reactive session on each back end (`--engines index,durable`) takes the same stream; every
figure is also a ratio to the baseline's, every session's final verdicts are compared with the
baseline's for all enterprises, and the load average is printed.

    .venv/bin/python benchmarks/bench_reactive.py [--enterprises 10000] [--updates 20000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from datetime import date
from pathlib import Path
from typing import Any

from incentives.engine import PolicySet, parse_profile
from incentives.engine.reactive import ReactiveSession
from incentives.engine.reactive.session import Engine, Update

AS_OF = date(2026, 11, 24)
ZONES = ["jinzhong-dz", "taiyuan", "guangling-etdz", "pingyao", "linfen-etdz"]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def profile(rng: random.Random) -> dict[str, Any]:
    revenue = rng.choice([800, 3000, 4000, 6000, 25000]) * 10_000
    rd_percent = rng.choice([2, 4, 6])
    return {
        "zone": rng.choice(ZONES),
        "registration_date": rng.choice(["2015-03-01", "2019-05-10", "2026-02-01"]),
        "resident_enterprise": True,
        "restricted_industry": rng.random() < 0.1,
        # No more 科技人员 than 职工 (an impossible profile is refused), even after an update.
        "employees": rng.randint(80, 500),
        "tech_staff": rng.randint(0, 80),
        "financials": {
            str(y): {
                "revenue": str(revenue),
                "total_income": str(revenue),
                "rd_expense": str(revenue * rd_percent // 100),
                "rd_expense_domestic": str(revenue * rd_percent * 3 // 400),
                "high_tech_revenue": str(revenue * rng.choice([5, 7]) // 10),
                "taxable_income": str(rng.randint(0, 5_000_000)),
                "total_assets": str(rng.randint(1, 100) * 1_000_000),
            }
            for y in (2023, 2024, 2025)
        },
        "intellectual_property": [{"kind": "invention_patent", "count": rng.randint(1, 3)}],
        "compliance": {"records": []},
        "certifications": [],
        "facts": {"hnte_core_ip_role": True, "hnte_key_field": rng.random() < 0.8},
    }


def change(rng: random.Random, eid: str) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.4:
        return {"enterprise": eid, "set": {"employees": rng.randint(80, 500)}}
    if roll < 0.7:
        value = str(rng.randint(0, 5_000_000))
        return {"enterprise": eid, "set": {"financials": {"2025": {"taxable_income": value}}}}
    if roll < 0.85:
        return {"enterprise": eid, "retract": ["facts.hnte_key_field"]}
    return {"enterprise": eid, "set": {"facts": {"hnte_innovation_score": rng.randint(60, 80)}}}


def _stream(enterprises: int, updates: int, seed: int) -> tuple[list[Any], list[Any], list[str]]:
    rng = random.Random(seed)
    ids = [f"E{i:05d}" for i in range(enterprises)]
    profiles = [{"enterprise": eid, "profile": profile(rng)} for eid in ids]
    return profiles, [change(rng, rng.choice(ids)) for _ in range(updates)], ids


def run_session(policies: PolicySet, engine: Engine, items: tuple[list[Any], list[Any], list[str]]) -> dict[str, Any]:
    """Load every enterprise, then apply the stream: rates, memory, the verdicts at the end."""
    profiles, stream, ids = items
    gc.collect()
    base = rss_mb()
    session = ReactiveSession(policies, AS_OF, engine=engine)
    in_durable = [0.0]  # seconds inside durable_rules calls (assert + retract)
    if engine == "durable":
        inner_engine = session.backend.engine  # type: ignore[attr-defined]
        for method in ("assert_fact", "retract_fact"):
            inner = getattr(inner_engine, method)

            def timed(*args: Any, _inner: Any = inner) -> Any:
                start = time.perf_counter()
                try:
                    return _inner(*args)
                finally:
                    in_durable[0] += time.perf_counter() - start

            setattr(inner_engine, method, timed)
    t0 = time.perf_counter()
    events = sum(len(session.apply(u)) for u in profiles)
    load_s = time.perf_counter() - t0
    gc.collect()
    loaded = rss_mb()
    in_durable[0] = 0.0
    t0 = time.perf_counter()
    events += sum(len(session.apply(u)) for u in stream)
    stream_s = time.perf_counter() - t0
    verdicts = {eid: session.verdicts(eid) for eid in ids}
    session.close()
    gc.collect()
    closed = rss_mb()
    return {
        "load_per_s": round(len(profiles) / load_s),
        "updates_per_s": round(len(stream) / stream_s),
        "durable_share_of_update_time": round(in_durable[0] / stream_s, 2),
        "events": events,
        "rss_mb_loaded": round(loaded, 1),
        "kb_per_enterprise": round((loaded - base) * 1024 / len(profiles), 1),
        "rss_mb_after_close": round(closed, 1),
        "verdicts": verdicts,
    }


def run_reference(policies: PolicySet, items: tuple[list[Any], list[Any], list[str]]) -> dict[str, Any]:
    """The baseline: merge the update, validate the whole profile, re-evaluate every policy,
    diff the verdicts."""
    profiles, stream, _ = items
    raws: dict[str, dict[str, Any]] = {}
    verdicts: dict[str, dict[str, Any]] = {}
    empty = {r.policy_id: r.status for r in policies.evaluate(parse_profile({}), AS_OF).results}

    def reference(item: dict[str, Any]) -> int:
        update = Update.model_validate(item)
        raw = ReactiveSession._next_raw(update, raws.get(update.enterprise, {}))
        raws[update.enterprise] = raw
        report = policies.evaluate(parse_profile(raw), AS_OF, gaps=False)
        now = {r.policy_id: r.status for r in report.results}
        before = verdicts.get(update.enterprise, empty)
        verdicts[update.enterprise] = now
        return sum(before[p] is not now[p] for p in now)

    t0 = time.perf_counter()
    events = sum(reference(u) for u in profiles)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    events += sum(reference(u) for u in stream)
    stream_s = time.perf_counter() - t0
    return {
        "load_per_s": round(len(profiles) / load_s),
        "updates_per_s": round(len(stream) / stream_s),
        "events": events,
        "verdicts": verdicts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--engines", default="index,durable", help="session back ends to measure, in order"
    )
    args = parser.parse_args()
    policies = PolicySet()
    items = _stream(args.enterprises, args.updates, args.seed)
    print(f"{args.enterprises:,} enterprises × {len(policies)} policies, {args.updates:,} "
          f"single-field updates; load average {_load()}")  # fmt: skip
    reference = run_reference(policies, items)
    rows = {"reference re-evaluation": reference}
    for engine in args.engines.split(","):
        rows[f"session, engine={engine}"] = run_session(policies, engine, items)  # type: ignore[arg-type]
    print("| path | updates/s | × reference | loads/s | KB / enterprise | durable share | events | verdicts = reference |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    base = reference["updates_per_s"]
    for label, r in rows.items():
        same = r["verdicts"] == reference["verdicts"]
        print(f"| {label} | {r['updates_per_s']:,} | {r['updates_per_s'] / base:.2f} | "
              f"{r['load_per_s']:,} | {r.get('kb_per_enterprise', '')} | "
              f"{r.get('durable_share_of_update_time', '')} | {r['events']:,} | {same} |")  # fmt: skip
    print(f"load average after: {_load()}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    summary = {k: {n: v for n, v in r.items() if n != "verdicts"} for k, r in rows.items()}
    (out / "reactive.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
