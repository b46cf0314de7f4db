"""Reactive mode figures: updates per second and memory per enterprise.

10,000 enterprises (default) × the bundled policy library. Each enterprise first gets a whole
profile, then a stream of single-field updates (`set` / `retract`) hits random enterprises.
The same stream is replayed against the reference evaluator: merge the update, validate the
profile, re-evaluate every policy, diff the verdicts. Both paths produce the same events; the
durable path is checked against the reference on a sample at the end.

    .venv/bin/python benchmarks/bench_reactive.py [--enterprises 10000] [--updates 20000]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import random
import time
from datetime import date
from pathlib import Path
from typing import Any

from incentives.engine import PolicySet, parse_profile
from incentives.engine.reactive import ReactiveSession
from incentives.engine.reactive.session import Update, _forget, _merge

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


def run(enterprises: int, updates: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    ids = [f"E{i:05d}" for i in range(enterprises)]
    profiles = [{"enterprise": eid, "profile": profile(rng)} for eid in ids]
    stream = [change(rng, rng.choice(ids)) for _ in range(updates)]
    policies = PolicySet()

    gc.collect()
    base = rss_mb()
    session = ReactiveSession(policies, AS_OF)
    in_durable = [0.0]  # seconds inside durable_rules calls (assert + retract)
    for method in ("assert_fact", "retract_fact"):
        inner = getattr(session._engine, method)

        def timed(*args: Any, _inner: Any = inner) -> Any:
            start = time.perf_counter()
            try:
                return _inner(*args)
            finally:
                in_durable[0] += time.perf_counter() - start

        setattr(session._engine, method, timed)
    t0 = time.perf_counter()
    events = sum(len(session.apply(u)) for u in profiles)
    load_s = time.perf_counter() - t0
    gc.collect()
    loaded = rss_mb()
    in_durable[0] = 0.0
    t0 = time.perf_counter()
    events_stream = sum(len(session.apply(u)) for u in stream)
    stream_s = time.perf_counter() - t0
    durable_share = in_durable[0] / stream_s

    # The reference: re-run the evaluator on the merged profile for every update.
    raws: dict[str, dict[str, Any]] = {}
    verdicts: dict[str, dict[str, Any]] = {}

    def reference(item: dict[str, Any]) -> int:
        update = Update.model_validate(item)
        raw = raws.get(update.enterprise, {})
        if update.profile is not None:
            raw = copy.deepcopy(update.profile)
        else:
            raw = copy.deepcopy(raw)
            _merge(raw, update.set_ or {})
            for path in update.retract or ():
                _forget(raw, path)
        raws[update.enterprise] = raw
        report = policies.evaluate(parse_profile(raw), AS_OF, gaps=False)
        now = {r.policy_id: r.status for r in report.results}
        before = verdicts.get(update.enterprise, session.baseline)
        verdicts[update.enterprise] = now
        return sum(before[p] is not now[p] for p in now)

    t0 = time.perf_counter()
    ref_events = sum(reference(u) for u in profiles)
    ref_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_events_stream = sum(reference(u) for u in stream)
    ref_stream_s = time.perf_counter() - t0

    sample = rng.sample(ids, 200)
    mismatches = sum(session.verdicts(eid) != verdicts[eid] for eid in sample)
    shards = len(session._shards)
    session.close()
    gc.collect()
    closed = rss_mb()
    return {
        "enterprises": enterprises,
        "policies": len(policies),
        "rulesets_per_shard": len(session.program.rulesets),
        "shards": shards,
        "updates": updates,
        "durable_load_per_s": round(enterprises / load_s),
        "durable_updates_per_s": round(updates / stream_s),
        "durable_share_of_update_time": round(durable_share, 2),
        "reference_load_per_s": round(enterprises / ref_load_s),
        "reference_updates_per_s": round(updates / ref_stream_s),
        "events": [events + events_stream, ref_events + ref_events_stream],
        "rss_mb_before": round(base, 1),
        "rss_mb_loaded": round(loaded, 1),
        "kb_per_enterprise": round((loaded - base) * 1024 / enterprises, 1),
        "rss_mb_after_close": round(closed, 1),
        "sample_mismatches": mismatches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = run(args.enterprises, args.updates, args.seed)
    for key, value in result.items():
        print(f"{key:>26}: {value}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "reactive.json").write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
