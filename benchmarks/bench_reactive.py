"""Reactive mode figures: updates per second and memory per enterprise.

10,000 enterprises (default, the issue's size) × the bundled policy library. Each enterprise first gets a whole
profile, then a stream of single-field updates (`set` / `retract`) hits random enterprises.
The baseline, measured in the same run, replays the stream against the reference evaluator:
merge the update, validate the whole profile, re-evaluate every policy, diff the verdicts. Then
a reactive session on each back end (`--engines index,durable`) takes the same stream, the
paths taking turns chunk by chunk so that load on a shared machine slows them alike. Every
figure is also a ratio to the baseline's, every session's final verdicts are compared with the
baseline's for all enterprises, memory per enterprise is measured for each back end alone, and
the load average is printed. Rates are given by wall clock and by CPU time (the process is
single-threaded, so on a shared machine its CPU seconds are the fairer figure).

    .venv/bin/python benchmarks/bench_reactive.py [--enterprises 10000] [--updates 20000] \
        [--engines index]

durable_rules keeps about 1.8 MB per enterprise (README, "Reactive mode"): measure it at 1,000
enterprises (`--enterprises 1000 --engines index,durable`), not at 10,000.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
import tracemalloc
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


Items = tuple[list[Any], list[Any], list[str]]  # whole profiles, the update stream, the ids


def _stream(enterprises: int, updates: int, seed: int) -> Items:
    rng = random.Random(seed)
    ids = [f"E{i:05d}" for i in range(enterprises)]
    profiles = [{"enterprise": eid, "profile": profile(rng)} for eid in ids]
    return profiles, [change(rng, rng.choice(ids)) for _ in range(updates)], ids


CHUNK = 250  # items each path takes in turn


class Reference:
    """The baseline: merge the update, validate the whole profile, re-evaluate every policy,
    diff the verdicts."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.raws: dict[str, dict[str, Any]] = {}
        self.now: dict[str, dict[str, Any]] = {}
        report = policies.evaluate(parse_profile({}), AS_OF, gaps=False)
        self.empty = {r.policy_id: r.status for r in report.results}

    def apply(self, item: dict[str, Any]) -> int:
        update = Update.model_validate(item)
        raw = ReactiveSession._next_raw(update, self.raws.get(update.enterprise, {}))
        self.raws[update.enterprise] = raw
        report = self.policies.evaluate(parse_profile(raw), AS_OF, gaps=False)
        now = {r.policy_id: r.status for r in report.results}
        before = self.now.get(update.enterprise, self.empty)
        self.now[update.enterprise] = now
        return sum(before[p] is not now[p] for p in now)

    def verdicts(self, eid: str) -> dict[str, Any]:
        return self.now.get(eid, self.empty)

    def close(self) -> None:
        return None


def _durable_clock(session: ReactiveSession) -> list[float]:
    """Seconds spent inside durable_rules calls (assert + retract), added up as they run."""
    spent = [0.0]
    engine = session.backend.engine  # type: ignore[attr-defined]
    for method in ("assert_fact", "retract_fact"):
        inner = getattr(engine, method)

        def timed(*args: Any, _inner: Any = inner) -> Any:
            start = time.perf_counter()
            try:
                return _inner(*args)
            finally:
                spent[0] += time.perf_counter() - start

        setattr(engine, method, timed)
    return spent


def interleaved(paths: dict[str, Any], items: list[Any]) -> dict[str, dict[str, float]]:
    """Every path takes `CHUNK` items in turn, so that a burst of load on the shared machine
    slows all paths alike: wall-clock seconds, CPU seconds (of this single-threaded process)
    and events per path."""
    out = {name: {"seconds": 0.0, "cpu": 0.0, "events": 0} for name in paths}
    for first in range(0, len(items), CHUNK):
        chunk = items[first : first + CHUNK]
        for name, path in paths.items():
            start, cpu = time.perf_counter(), time.process_time()
            out[name]["events"] += sum(len(e) if isinstance(e, list) else e
                                       for e in map(path.apply, chunk))  # fmt: skip
            out[name]["cpu"] += time.process_time() - cpu
            out[name]["seconds"] += time.perf_counter() - start
    return out


def kb_per_enterprise(policies: PolicySet, engine: Engine, profiles: list[Any]) -> float:
    """Memory a session on `engine` adds per enterprise loaded, measured alone: the larger of
    what the process's resident set grew by (durable_rules' native state) and of the Python
    objects traced (the interpreter reuses memory freed earlier, which the resident set misses)."""
    gc.collect()
    base = rss_mb()
    tracemalloc.start()
    session = ReactiveSession(policies, AS_OF, engine=engine)
    for item in profiles:
        session.apply(item)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    grown = max(rss_mb() - base, traced)
    session.close()
    return grown * 1024 / len(profiles)


def run(policies: PolicySet, engines: list[Engine], items: Items) -> dict[str, dict[str, Any]]:
    profiles, stream, ids = items
    paths: dict[str, Any] = {"reference re-evaluation": Reference(policies)}
    clocks = {}
    for engine in engines:
        session = ReactiveSession(policies, AS_OF, engine=engine)
        paths[f"session, engine={engine}"] = session
        if engine == "durable":
            clocks[f"session, engine={engine}"] = _durable_clock(session)
    load = interleaved(paths, profiles)
    for clock in clocks.values():
        clock[0] = 0.0
    updates = interleaved(paths, stream)
    reference = paths["reference re-evaluation"]
    rows: dict[str, dict[str, Any]] = {}
    for name, path in paths.items():
        rows[name] = {
            "load_per_s": round(len(profiles) / load[name]["seconds"]),
            "updates_per_s": round(len(stream) / updates[name]["seconds"]),
            "updates_per_cpu_s": round(len(stream) / updates[name]["cpu"]),
            "update_cpu_seconds": round(updates[name]["cpu"], 2),
            "update_seconds": round(updates[name]["seconds"], 2),
            "events": load[name]["events"] + updates[name]["events"],
            "same_verdicts": all(path.verdicts(e) == reference.verdicts(e) for e in ids),
        }
        if name in clocks:
            rows[name]["durable_share"] = round(clocks[name][0] / updates[name]["seconds"], 2)
        path.close()
    for engine in engines:
        kb = kb_per_enterprise(policies, engine, profiles)
        rows[f"session, engine={engine}"]["kb_per_enterprise"] = round(kb, 1)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--engines", default="index", help="session back ends to measure, in order"
    )
    args = parser.parse_args()
    policies = PolicySet()
    items = _stream(args.enterprises, args.updates, args.seed)
    print(f"{args.enterprises:,} enterprises × {len(policies)} policies, {args.updates:,} "
          f"single-field updates; load average {_load()}")  # fmt: skip
    rows = run(policies, args.engines.split(","), items)
    print("| path | updates/s (wall) | updates/s (CPU) | × reference (CPU) | CPU s | wall s "
          "| profiles/s | × reference | KB / enterprise | inside durable | events "
          "| verdicts = reference |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    base = rows["reference re-evaluation"]
    for label, r in rows.items():
        print(f"| {label} | {r['updates_per_s']:,} | {r['updates_per_cpu_s']:,} "
              f"| {r['updates_per_cpu_s'] / base['updates_per_cpu_s']:.2f} "
              f"| {r['update_cpu_seconds']} | {r['update_seconds']} "
              f"| {r['load_per_s']:,} | {r['load_per_s'] / base['load_per_s']:.2f} "
              f"| {r.get('kb_per_enterprise', '')} | {r.get('durable_share', '')} "
              f"| {r['events']:,} | {r['same_verdicts']} |")  # fmt: skip
    print(f"load average after: {_load()}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "reactive.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
