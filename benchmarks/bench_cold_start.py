"""Cold start of the command line: wall-clock and CPU time of fresh `incentives` processes.

    python -m benchmarks.bench_cold_start [--runs 5] [--against DIR]

Each command runs `--runs` times in a new interpreter (`python -m incentives`), interleaved;
the figures are the median and the range of the wall clock and of the child's CPU time (user
+ system, from `resource.getrusage`, which counts every thread), with the load average
printed: on a shared machine judge a target by the CPU time. The targets (issue 16): `--help`
under 0.3 s, `check` of an example under 0.5 s. Also printed: the modules the listing of
`--help` imports of those that only some commands need (Polars first): none.

Before timing, the package's modules are compiled to bytecode (`compileall`), as installing a
wheel does: where `PYTHONDONTWRITEBYTECODE` is set, a checkout would otherwise compile every
module of the engine on each run. The compiled library's cache (`engine/compile/cache.py`) is
timed both ways: `check` finds its entry (written by a first run, as after any first use), and
`check, no cache` runs with `INCENTIVES_NO_CACHE=1`, as the first run after an install or an
edit of the library does. The cache is kept in a temporary directory, not the user's.

`--against DIR` also times a second checkout (e.g. `git worktree add DIR <commit>`, or
`git archive <commit> | tar -x -C DIR`) in the same runs, interleaved command by command, and
prints each figure's ratio to it: on a loaded machine the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples/jinzhong-hightech.yaml"
CHECK = ("check", EXAMPLE, "--as-of", "2026-11-24")
NO_CACHE = {"INCENTIVES_NO_CACHE": "1"}
COMMANDS: tuple[tuple[str, tuple[str, ...], dict[str, str]], ...] = (
    ("incentives --help", ("--help",), {}),
    ("incentives check <example>", CHECK, {}),
    ("incentives check <example> --explain", (*CHECK, "--explain"), {}),
    ("incentives check <example>, no cache", CHECK, NO_CACHE),
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


def run_once(tree: Path, argv: tuple[str, ...], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one `python -m incentives` of the checkout `tree`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "incentives", *argv], cwd=tree, check=True,
        stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(tree), **env},
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def shown(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def compiled(tree: Path) -> None:
    """Bytecode for every module of the checkout, as an installed wheel has."""
    for part in ("engine", "cli", "service"):
        compileall.compile_dir(str(tree / part), quiet=1)


def timed(trees: list[Path], runs: int) -> dict[tuple[Path, str], list[tuple[float, float]]]:
    """Every command of every tree, `runs` times, interleaved."""
    figures: dict[tuple[Path, str], list[tuple[float, float]]] = {}
    for _ in range(runs):
        for label, argv, env in COMMANDS:
            for tree in trees:
                figures.setdefault((tree, label), []).append(run_once(tree, argv, env))
    return figures


def print_table(figures: dict[tuple[Path, str], list[tuple[float, float]]], trees: list[Path]) -> None:
    """The README's table: this checkout's figures, and with a second checkout its figures and
    the ratio of the CPU medians."""
    head = "| command | wall s, median (range) | CPU s, median (range) |"
    if len(trees) > 1:
        head += f" {trees[1]}: wall s | CPU s | CPU, × {trees[1]} |"
    print(head)
    print("| --- |" + " ---: |" * (head.count("|") - 2))
    for label, _, _ in COMMANDS:
        row = []
        for tree in trees:
            walls, cpus = zip(*figures[tree, label], strict=True)
            row += [shown(list(walls)), shown(list(cpus))]
        if len(trees) > 1:
            mine, other = (statistics.median(c for _, c in figures[t, label]) for t in trees)
            row.append(f"{mine / other:.2f}")
        print(f"| {label} | {' | '.join(row)} |")


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", type=Path, help="a second checkout, timed alike")
    args = parser.parse_args()
    trees = [ROOT] if args.against is None else [ROOT, args.against.resolve()]
    started = _load_average()
    with tempfile.TemporaryDirectory(prefix="incentives-cache-") as cache:
        os.environ["INCENTIVES_CACHE_DIR"] = cache
        os.environ.pop("INCENTIVES_NO_CACHE", None)
        for tree in trees:
            compiled(tree)
            run_once(tree, CHECK, {})  # warms the file cache, and writes the library's entry
        figures = timed(trees, args.runs)
    probe = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    imported = probe.stderr.split() or ["none"]
    print(f"{args.runs} runs each, interleaved; load average {started} at the start, "
          f"{_load_average()} at the end")  # fmt: skip
    print_table(figures, trees)
    print(f"--help imports of {', '.join(HEAVY)}: {', '.join(imported)}")


if __name__ == "__main__":
    main()
