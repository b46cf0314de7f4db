"""The profile reader that needs no validator build (`proven.proven_profile`) gives exactly the
profile `Profile.model_validate` gives — same types, same Decimal spellings, same order, same
fields set — or declines; it never accepts what the model refuses. Checked on the bundled
examples (which it must accept, or it would be saving nothing) and on generated profiles,
plausible and hostile, whose shape is drawn from the models' own fields."""

from __future__ import annotations

import copy
import subprocess
import sys
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from incentives.engine.model.jsonio import load_json
from incentives.engine.model.profile import Profile
from incentives.engine.model.proven import proven_profile
from incentives.engine.model.yamlio import load_yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = sorted((ROOT / "examples").glob("*.*"))
EXAMPLES = examples(200)


def _data(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return load_json(text) if path.suffix == ".json" else load_yaml(text)[0]


def same(a: Any, b: Any) -> bool:
    """Equal and alike: the same types throughout, Decimals written alike (`1.50` is not
    `1.5`), mappings in the same order, models with the same fields set and private state."""
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseModel):
        return (
            a.model_fields_set == b.model_fields_set
            and a.__pydantic_private__ == b.__pydantic_private__
            and a.__pydantic_extra__ == b.__pydantic_extra__
            and same(a.__dict__, b.__dict__)
        )
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) and same(k, k2) for k, k2 in zip(a, b, strict=True))
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and repr(a) == repr(b)


def agrees(data: Any) -> bool:
    """The reader declines, or gives what the model gives (and the model accepts)."""
    proven = proven_profile(copy.deepcopy(data))
    try:
        validated = Profile.model_validate(copy.deepcopy(data))
    except ValidationError:
        return proven is None
    return proven is None or same(proven, validated)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_is_proven_as_the_model_reads_it(path: Path) -> None:
    data = _data(path)
    proven = proven_profile(data)
    assert proven is not None, f"{path.name} is declined: the cold start would build the models"
    assert same(proven, Profile.model_validate(data))


# Values of every kind a YAML or JSON profile can hold, in spellings the model accepts, refuses
# or coerces (a number as text, a datetime for a date, a float, a non-finite Decimal).
TEXTS = st.sampled_from([
    "", " ", "abc", "是", "1200万元", "12000000", "1.50", "-5", "0", "3000吨", "24个月", "50人",
    "2019-05-10", " 2019-05-10 ", "2019/5/10", "2026-02-30", "C3976", "3976", "c3976", "I6513",
    "91140171MA0K000214", "91140171ma0k000214", "91140171MA0K000215", "true", "A", "hnte",
    "invention_patent", "self_developed", "major", "safety_accident", "2024", "1e3", "NaN",
    "a\ud800", "\x00", "１２",
])  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(1900, 2300),
    st.integers(-(10**30), 10**30), TEXTS, st.text(max_size=6),
    st.decimals(allow_nan=True, allow_infinity=True, places=2),
    st.sampled_from([Decimal("1.50"), Decimal("1E+3"), Decimal("-0"), Decimal("0.6"), 0.5]),
    st.dates(), st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)),
    st.lists(TEXTS, max_size=2),
)  # fmt: skip


def _values(annotation: Any) -> st.SearchStrategy[Any]:
    """Values for a field of this annotation: its own shapes (a nested model's mapping, a
    list, a mapping, a literal's texts) mixed with every other kind."""
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return st.one_of(_mappings(annotation), SCALARS)
    if origin is typing.Annotated:
        return _values(args[0])
    if origin in (Union, types.UnionType):
        return st.one_of(*(_values(a) for a in args if a is not type(None)), st.none())
    if origin is Literal:
        return st.one_of(st.sampled_from(args), SCALARS)
    if origin is list:
        return st.one_of(st.lists(_values(args[0]), max_size=3), SCALARS)
    if origin is dict:
        keys = st.one_of(st.integers(1940, 2300), TEXTS, st.sampled_from(["2024", " 2025", "2_025", 2024.0]))
        return st.one_of(st.dictionaries(keys, _values(args[1]), max_size=3), SCALARS)
    return SCALARS


def _mappings(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    fields = {name: _values(field.annotation) for name, field in model.model_fields.items()}
    unknown = st.dictionaries(st.sampled_from(["employes", "extra", "Name"]), SCALARS, max_size=1)
    return st.builds(
        lambda given, odd: {**given, **odd},
        st.fixed_dictionaries({}, optional=fields), st.one_of(st.just({}), unknown),
    )  # fmt: skip


@settings(max_examples=EXAMPLES)
@given(_mappings(Profile))
def test_generated_profiles_are_proven_as_the_model_reads_them_or_declined(data: dict[str, Any]) -> None:
    assert agrees(data)


VARIANTS = st.sampled_from(EXAMPLE_FILES).flatmap(
    lambda path: st.tuples(st.just(_data(path)), st.lists(st.tuples(st.integers(0, 10**6), SCALARS), max_size=3))
)


def _replaced(data: Any, choices: list[tuple[int, Any]]) -> Any:
    """`data` with some of its values (at any depth) replaced by others."""
    out = copy.deepcopy(data)
    for pick, value in choices:
        places: list[tuple[Any, Any]] = []
        stack = [out]
        while stack:
            node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for key, child in items:
                places.append((node, key))
                stack.append(child)
        if places:
            node, key = places[pick % len(places)]
            node[key] = value
    return out


@settings(max_examples=EXAMPLES)
@given(VARIANTS)
def test_examples_with_values_replaced_are_proven_as_the_model_reads_them_or_declined(
    variant: tuple[Any, list[tuple[int, Any]]],
) -> None:
    data, choices = variant
    assert agrees(_replaced(data, choices))


def test_refusals_are_the_models(tmp_path: Path) -> None:
    """A profile the reader declines is refused by the model, with its messages, in a process
    where no model was built before (the reader's first use)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nemployees: -3\nfinancials:\n  2024:\n    revenue: 10吨\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "incentives", "check", str(bad), "--lang", "en"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode != 0
    assert f"{bad}:2" in run.stderr and "employees" in run.stderr
    assert f"{bad}:5" in run.stderr and "financials.2024.revenue" in run.stderr


def test_an_example_is_read_alike_with_its_dates_as_text() -> None:
    """JSON writes dates and fiscal years as text: the reader reads them as the model does."""
    data = _data(ROOT / "examples" / "jinzhong-hightech.yaml")

    def as_json(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): as_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_json(v) for v in value]
        return value.isoformat() if isinstance(value, date) else value

    textual = as_json(data)
    proven = proven_profile(textual)
    assert proven is not None
    assert same(proven, Profile.model_validate(textual))
