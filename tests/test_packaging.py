"""The installed distribution: one import name, every package of the tree in it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {
    "engine": "incentives.engine",
    "cli": "incentives.cli",
    "policies": "incentives.policies",
    "service": "incentives.service",
}

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def _config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["tool"]["setuptools"]  # type: ignore[no-any-return]


def test_every_package_of_the_tree_is_listed() -> None:
    found = {"incentives"}
    for top, name in MAPPED.items():
        found.add(name)
        for init in (ROOT / top).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / top)
            if relative.parts:
                found.add(".".join((name, *relative.parts)))
    assert set(_config()["packages"]) == found  # type: ignore[arg-type]


def test_the_links_in_the_source_tree_point_at_the_mapped_folders() -> None:
    mapping = _config()["package-dir"]
    assert isinstance(mapping, dict)
    for top, name in MAPPED.items():
        assert mapping[name] == top
        link = ROOT / "incentives" / top
        assert link.is_symlink() and link.resolve() == (ROOT / top).resolve()


def test_one_import_name() -> None:
    import incentives
    from incentives.engine import PolicySet

    assert incentives.PolicySet is PolicySet
    assert "engine" not in sys.modules and "cli" not in sys.modules
