"""Throughput and peak memory: hand-written HNTE function, reference evaluator, vectorised back end.

    python -m benchmarks.bench [--sizes 10000,100000] [--with-1m] [--kinds K,…] [--frames DIR]
                               [--baseline DIR]

Each measurement runs in a fresh process (peak RSS is that process's). Every figure is also
given as a ratio to the hand-written HNTE function's time per profile-policy, measured in the
same run. `reference` and `vectorised` evaluate the whole bundled library (evaluations =
profiles × policies); the hand-written function and the `-hnte` kinds the HNTE rule only. The
reference and the hand-written function run on at most 20,000 profiles per size (their
per-profile cost does not depend on the register size); the vectorised back end runs on the
whole register, built before timing and evaluated 100,000 rows at a time (the register is
generated once per size and read by each vectorised process from Parquet; `--frames DIR` keeps it
for later runs). A vectorised batch's memory is its own: the process's high-water mark is reset
once the frame is read and the set compiled, and the peak over the batches is printed above the
resident set at that moment.

Each kind runs in its own process, one after another: on a machine shared with other work the
wall-clock ratios then move with the load. The CPU seconds of each process (all its threads:
Polars' count several) are printed beside them, with their ratio to the hand-written
function's, which the load hardly moves; the load average is printed before and after.

`--baseline DIR` runs an earlier version's coded vectorised evaluation (a `git archive` of it in
DIR, imported from there) on the same frame right after this version's, each time `vectorised`
runs, and prints it as the table's "baseline" row with this version's wall-clock and CPU time
as fractions of it: a comparison that holds on a loaded machine when both run in the same minutes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

AS_OF = date(2026, 11, 24)
ROW_CAP = 20_000
CHUNK = 50_000  # rows generated at a time for the vectorised frame
# Rows evaluated at a time by the vectorised back end (about 1 GB of intermediate columns per
# 100k rows): 1M profiles × 40 policies at once would not fit in a few GB.
BATCH = 100_000


def hnte_by_hand(p: Any, last: int) -> str:
    """办法 第十一条, written by hand for one profile (three-valued, like the rule)."""
    unknown = False

    def check(value: bool | None) -> bool:
        nonlocal unknown
        if value is None:
            unknown = True
            return True
        return value

    fin = p.financials or {}

    def line(year: int, name: str) -> Decimal | None:
        record = fin.get(year)
        return None if record is None else getattr(record, name)

    facts = p.facts
    if not check(p.resident_enterprise):
        return "ineligible"
    reg = p.registration_date
    if not check(None if reg is None else reg <= date(AS_OF.year - 1, AS_OF.month, AS_OF.day)):
        return "ineligible"
    ips = p.intellectual_property
    owned = (
        None
        if ips is None
        else sum(i.count for i in ips if i.ip_class and i.acquisition != "licence")
    )
    if not check(None if owned is None else owned >= 1):
        return "ineligible"
    if not check(facts.get("hnte_core_ip_role")) or not check(facts.get("hnte_key_field")):  # type: ignore[arg-type]
        return "ineligible"
    if not check(
        None
        if p.tech_staff is None or not p.employees
        else p.tech_staff / p.employees >= Decimal("0.1")
    ):
        return "ineligible"
    first = max(last - 2, reg.year) if reg else last - 2
    years = range(first, last + 1)
    rev3 = [line(y, "revenue") for y in years]
    rd3 = [line(y, "rd_expense") for y in years]
    dom3 = [line(y, "rd_expense_domestic") for y in years]
    revenue = line(last, "revenue")
    if None in rev3 or None in rd3 or revenue is None or not sum(rev3):  # type: ignore[arg-type]
        check(None)
    else:
        intensity = sum(rd3) / sum(rev3)  # type: ignore[arg-type]
        need = (
            Decimal("0.05")
            if revenue <= 50_000_000
            else Decimal("0.04")
            if revenue <= 200_000_000
            else Decimal("0.03")
        )
        if intensity < need:
            return "ineligible"
    if None in dom3 or None in rd3 or not sum(rd3):  # type: ignore[arg-type]
        check(None)
    elif sum(dom3) / sum(rd3) < Decimal("0.6"):  # type: ignore[arg-type]
        return "ineligible"
    ht, ti = line(last, "high_tech_revenue"), line(last, "total_income")
    if not check(None if ht is None or not ti else ht / ti >= Decimal("0.6")):
        return "ineligible"
    score = facts.get("hnte_innovation_score")
    if not check(None if score is None else Decimal(str(score)) > 70):
        return "ineligible"
    records = p.compliance.records if p.compliance else None
    if records is None:
        unknown = True
    elif any(r.severity in ("major", "serious") and r.kind != "tax_violation"
             and date(AS_OF.year - 1, AS_OF.month, AS_OF.day) < r.occurred <= AS_OF for r in records):  # fmt: skip
        return "ineligible"
    return "undetermined" if unknown else "eligible"


def _profiles(n: int) -> list[Any]:
    from benchmarks.generate import register, to_profile_data
    from incentives.engine import parse_profile

    return [parse_profile(to_profile_data(r)) for r in register(min(n, ROW_CAP), 7, AS_OF.year - 1)]


def _register_frame(n: int, facts: Any) -> Any:
    """The seeded register as one frame, built from CHUNK rows at a time so that the Python
    rows of a million profiles (~10 GB) never exist at once."""
    import polars as pl

    from benchmarks.generate import rows
    from incentives.engine.batch.columns import rows_to_frame

    last = AS_OF.year - 1
    years = range(last - 2, last + 1)
    generated = rows(n, 7, last)
    chunks = []
    while chunk := list(itertools.islice(generated, CHUNK)):
        chunks.append(rows_to_frame(chunk, facts, years))
    return pl.concat(chunks, rechunk=True)


def measure(kind: str, n: int, frame_file: str | None = None) -> dict[str, Any]:
    """One measurement in this process: seconds (wall and CPU, all threads), evaluations
    (profile × policy), peak RSS. The vectorised kinds read their frame from `frame_file`
    (a Parquet file of `_register_frame`) when given, else build it."""
    from incentives.engine import PolicySet

    policies = PolicySet()
    if kind == "hand":
        profiles = _profiles(n)
        start, cpu = time.perf_counter(), time.process_time()
        for p in profiles:
            hnte_by_hand(p, AS_OF.year - 1)
        seconds, evaluations = time.perf_counter() - start, len(profiles)
        cpu = time.process_time() - cpu
    elif kind == "closures-hnte":  # the reference's compiled condition closures, no result objects
        from incentives.engine.reference.evaluate import compile_policy

        profiles = _profiles(n)
        cp = compile_policy(policies.get("national.hnte.certification"), policies.plan.facts)
        assert cp.when is not None
        start, cpu = time.perf_counter(), time.process_time()
        for p in profiles:
            ctx = policies.context(p, AS_OF)
            cp.when.fn(ctx)
            for node in cp.unless:
                node.fn(ctx)
        seconds, evaluations = time.perf_counter() - start, len(profiles)
        cpu = time.process_time() - cpu
    elif kind in ("reference", "reference-hnte", "reference-gaps", "reference-hnte-gaps"):
        # `reference*`: verdicts, amounts and missing facts, as screening asks for them;
        # `*-gaps`: the default evaluation, which adds what it would take to pass.
        profiles = _profiles(n)
        ids = ["national.hnte.certification"] if "hnte" in kind else None
        gaps = kind.endswith("-gaps")
        start, cpu = time.perf_counter(), time.process_time()
        for p in profiles:
            policies.evaluate(p, AS_OF, policy_ids=ids, gaps=gaps)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        evaluations = len(profiles) * (1 if ids else len(policies))
    else:
        # `vectorised`: the results as screen tallies and writes them (`evaluate_coded`:
        # texts as Enums, lists of facts as codes); `vectorised-decoded`: `evaluate()`, which
        # spells every row's texts and lists out; `vectorised-half`: the coded evaluation
        # with half the library's documents, for the cost of each added policy.
        from incentives.engine.batch.vectorised import VectorisedSet

        if kind == "vectorised-half":
            policies = _half_library(policies)
        if frame_file is None:
            frame = _register_frame(n, policies.facts)
        else:
            import polars as pl

            frame = pl.read_parquet(frame_file)
        vectorised = VectorisedSet(policies)
        assert not vectorised.fallback, vectorised.fallback  # no row-by-row evaluation here
        evaluate = vectorised.evaluate if kind == "vectorised-decoded" else vectorised.evaluate_coded
        read_peak = _memory_mb("VmHWM")
        before = _reset_peak()
        start, cpu = time.perf_counter(), time.process_time()
        evaluations = 0
        for offset in range(0, frame.height, BATCH):
            evaluations += evaluate(frame.slice(offset, BATCH), AS_OF).height
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert evaluations == n * len(policies), (evaluations, n, len(policies))
        batch_peak = _memory_mb("VmHWM")
        return {"seconds": seconds, "cpu": cpu, "evaluations": evaluations,
                "peak_mb": max(read_peak, batch_peak), "batch_mb": batch_peak - before,
                "policies": len(policies)}  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "cpu": cpu, "evaluations": evaluations, "peak_mb": peak}


def _memory_mb(field: str) -> float:
    """This process's `VmRSS` (resident now) or `VmHWM` (its high-water mark) in MB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> float:
    """Start the high-water mark afresh at the resident set now (Linux: `clear_refs` 5), so
    that the peak measured next is the batches' own: reading the Parquet frame peaks above
    what it keeps, and a peak taken over the whole process would hide a smaller batch behind
    that (which is what the figure of earlier rounds did). Returns the resident set, in MB."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _memory_mb("VmRSS")


def _half_library(policies: Any) -> Any:
    """The bundled library's documents, the first half of them (those that load alone)."""
    import shutil
    import tempfile
    from pathlib import Path

    from incentives.engine import PolicySet
    from incentives.engine.compile.loader import bundled_policies

    root = bundled_policies()
    documents = sorted(root.rglob("*.yaml"))
    target = Path(tempfile.mkdtemp(prefix="half-library-"))
    for document in documents[: len(documents) // 2]:
        place = target / document.relative_to(root)
        place.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(document, place)
    return PolicySet(target)


def _child(
    kind: str, n: int, frame_file: str | None = None, root: str | None = None
) -> dict[str, Any]:
    """One measurement in a fresh process: of this version, or of the one in `root`."""
    extra = [] if frame_file is None else ["--frame", frame_file]
    env = None if root is None else {**os.environ, "PYTHONPATH": root}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--one", kind, str(n), *extra],
        check=True, capture_output=True, text=True, cwd=root, env=env,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


KINDS = ("hand", "closures-hnte", "reference-hnte", "reference-hnte-gaps", "reference",
         "reference-gaps", "vectorised", "vectorised-decoded", "vectorised-half")  # fmt: skip


BASELINE = "vectorised-baseline"  # `vectorised` of the `--baseline` version
_WHAT = {"vectorised": "vectorised, coded (what `screen` writes)",
         BASELINE: "baseline: vectorised, coded",
         "vectorised-decoded": "vectorised, decoded (`evaluate`)",
         "vectorised-half": "vectorised, coded, half the library"}  # fmt: skip


def _print_vectorised(n: int, runs: dict[str, dict[str, Any]]) -> None:
    """Evaluations per second, memory per 100k batch, and the cost of each added policy: the
    README's vectorised table, row for row, then the added policy's cost."""
    if runs:
        print("\n| rows × policies | what | seconds | CPU s | M evaluations / s (wall) "
              "| M evaluations / CPU s | batch MB |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: |")  # fmt: skip
    for kind, r in runs.items():
        print(f"| {n:,} × {r['policies']} | {_WHAT[kind]} | {r['seconds']:.2f} | {r['cpu']:.2f} "
              f"| {r['evaluations'] / r['seconds'] / 1e6:.1f} | {r['evaluations'] / r['cpu'] / 1e6:.1f} "
              f"| {r['batch_mb']:.0f} |")  # fmt: skip
    print(f"(batch MB: above the frame at the peak of a batch of {min(n, BATCH):,} rows; "
          f"load average now {_load()})")
    if "vectorised" in runs and BASELINE in runs:
        now, then = runs["vectorised"], runs[BASELINE]
        print(f"coded, this version against the baseline: {now['seconds'] / then['seconds']:.2f} "
              f"of its wall clock, {now['cpu'] / then['cpu']:.2f} of its CPU time")  # fmt: skip
    if "vectorised" not in runs or "vectorised-half" not in runs:
        return
    full, half = runs["vectorised"], runs["vectorised-half"]
    added = full["policies"] - half["policies"]
    if added > 0:
        wall = (full["seconds"] - half["seconds"]) / added / (n / 1e6)
        cpu = (full["cpu"] - half["cpu"]) / added / (n / 1e6)
        print(f"each added policy: {wall:.3f} s of wall clock and {cpu:.3f} CPU s per 1M rows "
              f"({half['policies']} → {full['policies']} policies)")  # fmt: skip


def _check_cold() -> float:
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "incentives", "check", "examples/jinzhong-hightech.yaml",
             "--as-of", "2026-11-24", "--explain", "--lang", "en"],
            check=True, capture_output=True,
        )  # fmt: skip
        runs.append(time.perf_counter() - start)
    return sorted(runs)[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--with-1m", action="store_true", help="add 1,000,000 profiles")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--frame", help=argparse.SUPPRESS)  # a prebuilt frame for --one
    parser.add_argument("--kinds", help="comma-separated kinds to measure (hand always runs)")
    parser.add_argument("--baseline", help="an earlier version's tree (`git archive`) whose coded "
                        "vectorised evaluation runs right after this version's")  # fmt: skip
    parser.add_argument("--frames", help="a directory keeping the generated registers (Parquet) "
                        "between runs; empty it when the generator or the catalogue changes")  # fmt: skip
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.frame)))
        return
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.with_1m else [])
    from incentives.engine import PolicySet

    print(f"Bundled library: {len(PolicySet())} policies; load average {_load()}.\n")
    print("| profiles | back end | evaluations | seconds | µs / profile-policy | × hand-written "
          "| CPU s | × hand-written (CPU) | peak RSS MB |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    asked = [] if args.kinds is None else [k for k in args.kinds.split(",") if k != "hand"]
    kinds = KINDS if args.kinds is None else ("hand", *asked)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))} (known: {', '.join(KINDS)})")
    with tempfile.TemporaryDirectory(prefix="bench-frame-") as scratch:
        for n in sizes:
            frame_file = Path(args.frames or scratch) / f"register-{n}.parquet"
            _measure_size(n, frame_file, kinds, args.baseline)
    print(f"\n`incentives check --explain`, cold process, median of 3: {_check_cold():.3f} s")
    print(f"load average after: {_load()}")


def _measure_size(
    n: int, frame_file: Path, kinds: Sequence[str], baseline: str | None = None
) -> None:
    """The kinds on `n` profiles; the vectorised kinds share one frame, built once (a register
    of a million rows takes minutes to generate) and read from `frame_file` (kept there, when
    `--frames` names a directory, for the next run). With a `baseline` tree, its coded
    evaluation runs right after `vectorised`."""
    from incentives.engine import PolicySet

    if any(k.startswith("vectorised") for k in kinds) and not frame_file.exists():
        frame_file.parent.mkdir(parents=True, exist_ok=True)
        _register_frame(n, PolicySet().facts).write_parquet(frame_file)
    hand = _child("hand", n)
    base = hand["seconds"] / hand["evaluations"]
    base_cpu = hand["cpu"] / hand["evaluations"]
    vectorised: dict[str, dict[str, Any]] = {}
    after = {"vectorised": [BASELINE]} if baseline is not None else {}
    for kind in [each for asked in kinds for each in (asked, *after.get(asked, []))]:
        if kind == BASELINE:
            r = _child("vectorised", n, str(frame_file), str(Path(baseline or ".").resolve()))
        else:
            r = hand if kind == "hand" else _child(kind, n, str(frame_file))
        per = r["seconds"] / r["evaluations"]
        print(f"| {n:,} | {kind} | {r['evaluations']:,} | {r['seconds']:.2f} | {per * 1e6:.2f} "
              f"| {per / base:.2f} | {r['cpu']:.2f} "
              f"| {r['cpu'] / r['evaluations'] / base_cpu:.2f} | {r['peak_mb']:.0f} |",
              flush=True)  # fmt: skip
        if kind.startswith("vectorised"):
            vectorised[kind] = r
    _print_vectorised(n, vectorised)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
