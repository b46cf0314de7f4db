"""The loader under arbitrary YAML: bundled documents with nodes replaced by arbitrary values,
arbitrary YAML values and arbitrary text either load (and then evaluate without error) or are
refused with a PolicyError whose every problem has a message; never another exception."""

from __future__ import annotations

import copy
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from conftest import AS_OF, examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from incentives.engine import PolicyError, PolicySet, parse_profile
from incentives.engine.compile.loader import bundled_policies

# Examples per property test under the CI profile.
MUTATED_DOCUMENTS, ARBITRARY_VALUES, ARBITRARY_TEXT = examples(60), examples(30), examples(30)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10**6, 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.text(max_size=12),
    st.sampled_from(["5000万元", "-1年", "10%", "500元/吨", "national", "all", "fact", "1e999999999",
                     "2020-13-01", "verified", "abc", "", "employees", "9999-12-31"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["fact", "all", "any", "not", "ge", "le", "eq", "in",
                                         "between", "within", "grant", "amount", "cap", "group",
                                         "tiers", "bands", "by", "rate", "base", "from", "until"]),
                        inner, max_size=3),
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _bundled_documents() -> list[Any]:
    return [yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted(bundled_policies().rglob("*.yaml"))
            if p.name != "zones.yaml" and not p.name.endswith(".cases.yaml")]  # fmt: skip


BUNDLED = _bundled_documents()


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """A bundled document with one to three nodes replaced by arbitrary YAML values."""
    document = copy.deepcopy(draw(st.sampled_from(BUNDLED)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)
        scalar_paths = [p for p in paths if p and not isinstance(_at(document, p), dict | list)]
        if scalar_paths and draw(st.booleans()):
            # a plausible slip of the pen: one value replaced by another scalar
            path, replacement = draw(st.sampled_from(scalar_paths)), draw(scalars)
        else:
            path, replacement = draw(st.sampled_from(paths)), draw(values)
        if not path:
            document = replacement
            continue
        node = document
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = replacement
    return yaml.safe_dump(document, allow_unicode=True)


def load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "doc.yaml").write_text(text, encoding="utf-8")
        try:
            policy_set = PolicySet(directory)
        except PolicyError as exc:
            assert exc.problems or exc.summary
            for problem in exc.problems:
                assert problem.message
            return
        # What loads must evaluate without error.
        policy_set.evaluate(parse_profile({}), AS_OF, explain=True)
        policy_set.evaluate(parse_profile({"zone": "jinzhong-dz", "employees": 5}), date(9999, 12, 31))


@settings(max_examples=MUTATED_DOCUMENTS)
@given(text=mutated_documents())
def test_loader_never_crashes_on_mutated_documents(text: str) -> None:
    load_text(text)


@settings(max_examples=ARBITRARY_VALUES)
@given(data=values)
def test_loader_never_crashes_on_arbitrary_yaml_values(data: Any) -> None:
    load_text(yaml.safe_dump(data, allow_unicode=True))


@settings(max_examples=ARBITRARY_TEXT)
@given(text=st.text(max_size=200))
def test_loader_never_crashes_on_arbitrary_text(text: str) -> None:
    assume("\x00" not in text)
    load_text(text)
