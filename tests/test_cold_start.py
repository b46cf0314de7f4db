"""`incentives check` starts fast: it must not import what only other commands need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("polars", "pyarrow", "pyspark", "durable", "hypothesis", "incentives.engine.batch", "incentives.engine.reactive",
         "fastapi", "starlette", "uvicorn", "jsonschema", "incentives.service", "incentives.engine.schema",
         "rich.console", "rich.table")  # rich lays out only for a terminal: a pipe gets cli.plain's layout

# Runs the command line on the arguments given, then prints every module it imported.
PROGRAM = """
import sys
from incentives.cli.main import main
try:
    main({args!r})
except SystemExit as exit:
    assert not exit.code, exit.code
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""
LISTING = PROGRAM.format(args=["--help"])


def _run(program: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """The standard output of a fresh interpreter running `program` (with `env` added to the
    environment), and the modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return done.stdout, done.stderr.splitlines()[-1].split()


def _heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


def test_check_imports_no_heavy_packages() -> None:
    check = ["check", "examples/jinzhong-hightech.yaml", "--as-of", "2026-11-24", "--explain"]
    _, modules = _run(PROGRAM.format(args=check))
    assert "incentives.engine.policyset" in modules  # the check did run
    assert _heavy(modules) == []


def test_check_from_the_library_cache_builds_no_policy_language(tmp_path: Path) -> None:
    """Once the bundled library's entry is kept (`engine.compile.cache`), `check` neither reads
    the documents nor builds the policy language's models, and prints the same. It builds no
    pydantic validator at all (the profile is read by `model.proven`, results are made from
    values that need none): the first build would import pydantic's plugin loader."""
    check = ["check", "examples/jinzhong-hightech.yaml", "--as-of", "2026-11-24"]
    env = {"INCENTIVES_CACHE_DIR": str(tmp_path), "INCENTIVES_NO_CACHE": ""}
    first, loading = _run(PROGRAM.format(args=check), env)
    again, modules = _run(PROGRAM.format(args=check), env)
    language = ("incentives.engine.model.language", "incentives.engine.compile.loader")
    assert all(m in loading for m in language)  # the first run loaded the documents
    assert [m for m in modules if m in language] == []
    assert "pydantic.plugin._loader" in loading  # the first run built the documents' models
    assert [m for m in modules if m.startswith(("pydantic.plugin._loader", "importlib.metadata"))] == []
    assert again == first


def test_help_lists_every_command_without_importing_them() -> None:
    listing, modules = _run(LISTING)
    assert _heavy(modules) == []
    # Nor the models, the loader or the renderers: the listing needs only click.
    light = ("pydantic", "yaml", "rich", "incentives.engine.policyset", "incentives.cli.render")
    assert sorted(m for m in modules if m.split(".")[0] in light or m in light) == []
    # The same listing as with every command imported (each command's own help).
    eager, _ = _run(
        "import importlib\nfrom incentives.cli.main import _Commands\n"
        "for module, _ in _Commands.LAZY.values():\n    importlib.import_module(module)\n"
        + LISTING
    )
    assert "screen" in listing and listing == eager
