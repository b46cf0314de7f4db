"""Cold start of the command line: wall-clock and CPU time of fresh `incentives` processes.

    python -m benchmarks.bench_cold_start [--runs 5]

Each command runs `--runs` times in a new interpreter (the installed `incentives` script
beside this interpreter, else `python -m incentives`), interleaved; the figures are the
median and the range of the wall clock and of the child's CPU time (user + system, from
`resource.getrusage`, which counts every thread), with the load average printed: on a shared
machine judge a target by the CPU time. The targets (issue 16): `--help` under 0.3 s, `check`
of an example under 0.5 s. Also printed: the modules the listing of `--help` imports of those
that only some commands need (Polars first): none.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples/jinzhong-hightech.yaml"
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("incentives --help", ("--help",)),
    ("incentives check <example>", ("check", EXAMPLE, "--as-of", "2026-11-24")),
    ("incentives check <example> --explain", ("check", EXAMPLE, "--as-of", "2026-11-24", "--explain")),
)
HEAVY = ("polars", "pyarrow", "pydantic", "yaml", "rich", "incentives.engine.policyset")
PROBE = """
import sys
from incentives.cli.main import main
try:
    main(["--help"])
except SystemExit:
    pass
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY or m in HEAVY)), file=sys.stderr)
"""


def program() -> list[str]:
    script = Path(sys.executable).with_name("incentives")
    return [str(script)] if script.exists() else [sys.executable, "-m", "incentives"]


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def shown(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = program()
    run_once([*base, "--help"])  # warm the file cache: every figure is of a warm disk
    walls: dict[str, list[float]] = {label: [] for label, _ in COMMANDS}
    cpus: dict[str, list[float]] = {label: [] for label, _ in COMMANDS}
    for _ in range(args.runs):
        for label, extra in COMMANDS:
            wall, cpu = run_once([*base, *extra])
            walls[label].append(wall)
            cpus[label].append(cpu)
    probe = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    imported = probe.stderr.split() or ["none"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.runs} runs each, interleaved; load average {load}")
    print("| command | wall s, median (range) | CPU s, median (range) |")
    print("| --- | ---: | ---: |")
    for label, _ in COMMANDS:
        print(f"| {label} | {shown(walls[label])} | {shown(cpus[label])} |")
    print(f"--help imports of {', '.join(HEAVY)}: {', '.join(imported)}")


if __name__ == "__main__":
    main()
