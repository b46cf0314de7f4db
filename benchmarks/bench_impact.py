"""`incentives impact` against `incentives screen` on the same register: seconds and the ratio.

    python -m benchmarks.bench_impact [--rows 100000] [--format parquet] [--candidate DIR]

Writes the seeded synthetic register of `benchmarks.bench_screen` once, then times, each in a
fresh process and interleaved (`--repeat` times): `screen` of it with the bundled library, and
`impact` of it with the bundled library as base and `--candidate` (default: the library with the
known changes of `tests/impact_support.py`) writing the changed rows. Prints a markdown table
with the machine's load average beside it (2 shared cores: the figures are noisy).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_screen import AS_OF, write_register


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "incentives.cli.main", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", default="parquet", choices=["jsonl", "csv", "parquet"])
    parser.add_argument("--candidate", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        register = root / f"register.{options.format}"
        write_register(register, options.format, options.rows)
        candidate = options.candidate
        if candidate is None:
            sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
            from impact_support import build_candidate

            candidate = build_candidate(root)
        day = AS_OF.isoformat()
        screens, impacts = [], []
        for _ in range(options.repeat):
            screens.append(_timed(["screen", str(register), "--as-of", day, "--format",
                                   "parquet", "--out", str(root / "screen.parquet")]))  # fmt: skip
            impacts.append(_timed(["impact", str(register), "--candidate", str(candidate),
                                   "--as-of", day, "--format", "parquet",
                                   "--out", str(root / "impact.parquet")]))  # fmt: skip
    screen, impact = min(screens), min(impacts)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"| rows | format | screen s | impact s | impact / screen | load average |\n"
          f"| ---: | --- | ---: | ---: | ---: | --- |\n"
          f"| {options.rows:,} | {options.format} | {screen:.1f} | {impact:.1f} | "
          f"{impact / screen:.2f} | {load} |")  # fmt: skip


if __name__ == "__main__":
    main()
