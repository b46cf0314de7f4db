"""A PolicySet shared between threads: four threads evaluating the same profiles at once get
exactly the reports of a single thread (each evaluation keeps its state in its own context)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from conftest import AS_OF, HNTE_BASE, build

from incentives.engine import PolicySet, Report, load_profile


def test_thread_safety(policies: PolicySet) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    profiles = [load_profile(p) for p in sorted(examples.iterdir())]
    profiles += [build(HNTE_BASE), build(HNTE_BASE, tech_staff=None), build(HNTE_BASE, employees=500)]
    dates = [AS_OF, date(2026, 1, 1), date(2028, 1, 1)]
    jobs = [(p, d) for p in profiles for d in dates]

    def run(job: tuple[Any, date]) -> dict[str, Any]:
        report: Report = policies.evaluate(job[0], job[1], explain=True)
        return report.model_dump(mode="json")

    expected = [run(job) for job in jobs]
    barrier = threading.Barrier(4)

    def hammer(_: int) -> list[dict[str, Any]]:
        barrier.wait()
        return [run(job) for job in jobs]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(hammer, range(4)))
    assert all(outcome == expected for outcome in outcomes)
