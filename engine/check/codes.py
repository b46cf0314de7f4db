"""Code values in rules: a value a code fact never takes (`provincal_specialised`, `A级`), and
industry codes written otherwise than a profile's normalised form (`4210` for `C4210`, the
integer 3975) or matched exactly where a prefix is meant (`in: [C42]` never matches C4210).

The loader already normalises industry codes in rules as a profile's are, so the rule works;
the warning asks for the normalised spelling so that the document says what is compared."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Literal

from ..compile.conditions import industry_fact
from ..compile.plan import Comparison, FactPlan, PolicyPlan
from .logic import flat

Severity = Literal["error", "warning"]
_EXACT = ("eq", "ne", "in", "not_in")
_CLASS_LENGTH = 5  # a letter and four digits: the finest GB/T 4754 code, what profiles hold


def code_problems(
    plan: PolicyPlan, facts: Mapping[str, FactPlan]
) -> Iterator[tuple[Severity, str, str, Comparison]]:
    """(severity, code, message, leaf) for each code value a rule gets wrong."""
    for leaf, _ in plan.comparisons():
        fact = facts[leaf.fact]
        if fact.values is not None and leaf.op in _EXACT:
            for value in sorted(str(v) for v in flat(leaf.operand)):
                if value not in fact.values:
                    yield "error", "code-value", _unknown(value, fact), leaf
        if industry_fact(fact):
            message = _industry(leaf)
            if message is not None:
                yield "warning", "industry-code", message, leaf


def _unknown(value: str, fact: FactPlan) -> str:
    close = difflib.get_close_matches(value, sorted(fact.values or ()), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (f"{value!r} is not a value of {fact.id} ({', '.join(sorted(fact.values or ()))}): no "
            f"profile can match it{hint}")  # fmt: skip


def _industry(leaf: Comparison) -> str | None:
    written = [str(v) for v in flat(leaf.written)] if leaf.written is not None else []
    normalised = sorted(str(v) for v in flat(leaf.operand))
    typed = any(not isinstance(v, str) for v in flat(leaf.written))
    if (written and sorted(written) != normalised) or typed:
        return (f"industry codes are written as a profile holds them, a section letter and the "
                f"digits: write {leaf.op}: [{', '.join(normalised)}]")  # fmt: skip
    short = [code for code in normalised if len(code) < _CLASS_LENGTH]
    if leaf.op in _EXACT and short:
        return (f"{leaf.op} compares whole codes, so {short[0]!r} matches only a profile coded "
                f"exactly {short[0]}, not the classes below it ({short[0]}10…): write "
                f"prefix_in: [{', '.join(short)}]")  # fmt: skip
    return None


__all__ = ["code_problems"]
