"""`incentives check` starts fast: it must not import what only other commands need."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("polars", "pyarrow", "pyspark", "durable", "hypothesis", "incentives.engine.batch", "incentives.engine.reactive",
         "fastapi", "starlette", "uvicorn", "jsonschema", "incentives.service", "incentives.engine.schema")

PROGRAM = """
import sys
from incentives.cli.main import main
try:
    main(["check", "examples/jinzhong-hightech.yaml", "--as-of", "2026-11-24", "--explain"])
except SystemExit as exit:
    assert not exit.code, exit.code
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_check_imports_no_heavy_packages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, check=True
    )
    modules = done.stderr.splitlines()[-1].split()
    assert "incentives.engine.policyset" in modules  # the check did run
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert loaded == []


LISTING = """
import sys
from incentives.cli.main import main
try:
    main(["--help"])
except SystemExit as exit:
    assert not exit.code, exit.code
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_help_lists_every_command_without_importing_them() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LISTING], cwd=ROOT, capture_output=True, text=True, check=True
    )
    modules = done.stderr.splitlines()[-1].split()
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)) == []
    # Nor the models, the loader or the renderers: the listing needs only click.
    light = ("pydantic", "yaml", "rich", "incentives.engine.policyset", "incentives.cli.render")
    assert sorted(m for m in modules if m.split(".")[0] in light or m in light) == []
    # The same listing as with every command imported (each command's own help).
    eager = subprocess.run(
        [sys.executable, "-c", "import importlib\nfrom incentives.cli.main import _Commands\n"
         "for module, _ in _Commands.LAZY.values():\n    importlib.import_module(module)\n"
         + LISTING],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "screen" in done.stdout and done.stdout == eager.stdout
