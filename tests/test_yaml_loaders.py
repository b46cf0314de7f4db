"""libyaml parses policy and profile files when it is installed; PyYAML's own parser is the
reference and words every error. On every YAML file of the repository both must give the
same data and the same line map."""

from __future__ import annotations

from pathlib import Path

import pytest

from incentives.engine.model import yamlio

ROOT = Path(__file__).resolve().parent.parent
_SKIPPED = {".git", ".venv", "broken"}  # the repository's own files, not installed packages
FILES = sorted(p for p in ROOT.rglob("*.yaml") if _SKIPPED.isdisjoint(p.parts))


@pytest.mark.skipif(yamlio._FastLoader is None, reason="PyYAML built without libyaml")
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_libyaml_and_pyyaml_agree(path: Path) -> None:
    assert yamlio._FastLoader is not None
    text = path.read_text(encoding="utf-8")
    fast = yamlio._load(yamlio._FastLoader, text)
    reference = yamlio._load(yamlio._ExactLoader, text)
    assert fast == reference
    assert [type(v) for v in _leaves(fast[0])] == [type(v) for v in _leaves(reference[0])]


def test_errors_are_worded_by_pyyaml() -> None:
    bad = "a: 1\n  b: [2\n"
    with pytest.raises(yamlio.YamlError) as fast:
        yamlio.load_yaml(bad)
    with pytest.raises(yamlio.YamlError) as reference:
        yamlio._load(yamlio._ExactLoader, bad)
    assert (str(fast.value), fast.value.line) == (str(reference.value), reference.value.line)


def _leaves(data: object) -> list[object]:
    if isinstance(data, dict):
        return [leaf for key, value in data.items() for leaf in (key, *_leaves(value))]
    if isinstance(data, list):
        return [leaf for item in data for leaf in _leaves(item)]
    return [data]
