"""`context.coercer`, the per-fact coercion the resolvers and the profile's extra facts use,
says what `context._coerce` says of every value: the same value, or the same refusal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.engine import PolicySet
from incentives.engine.reference.context import _coerce, coercer

EXAMPLES = examples(300)

_RAW = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["12万元", "30%", "0.5", "1e40", "3 persons", "2024-01-31"]),
    st.dates(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)),
    st.lists(st.text(max_size=3), max_size=3),
    st.frozensets(st.text(max_size=3), max_size=3),
)


def _outcome(make: Any) -> tuple[str, object]:
    try:
        value = make()
    except ValueError as exc:
        return "refused", str(exc)
    return type(value).__name__, value


_FACTS = sorted(PolicySet().plan.facts.values(), key=lambda d: d.id)


@settings(max_examples=EXAMPLES)
@given(st.sampled_from(_FACTS), _RAW)
def test_coercer_says_what_coerce_says(defn: Any, raw: Any) -> None:
    where = f"facts.{defn.id}"
    assert _outcome(lambda: coercer(defn)(raw, where)) == _outcome(
        lambda: _coerce(defn, raw, where)
    )

