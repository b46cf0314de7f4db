"""Does a rule say what its Chinese label says?

A criterion's `label` is usually the document's own words (`资产总额不超过5000万元`), so the
number, its unit and the boundary words around it state the rule a second time. This module
reads them back and compares them with the operator and the threshold:

- the number: `5000元` in the rule where the label says 5000万元, `0.03%` for 3%;
- the boundary: 以上, 不低于, 不少于, 达到, 至少 (at least: `ge`); 超过, 高于, 大于, 多于 (more
  than: `gt`); 以下, 不超过, 不高于, 以内 (at most: `le`); 不满, 不足, 低于, 小于, 少于 (less
  than: `lt`); a following （含） or （不含） overrides whether the number itself is included;
- dates before the evaluation date read the other way round: 注册成立一年以上 (registered at
  least a year ago) is `registration_date le -1年`;
- a band read in context: `2亿元以上` after a band `（含）2亿元` means above 2亿元 (`gt`), so a
  label's inclusion is not held against a rule when another criterion of the policy on the
  same fact takes the boundary value itself;
- a benefit's text (`按研发费用的5%给予奖励`) against its rate.

Only what the label states is compared: a label without a number in the fact's unit, or without
boundary words, says nothing to check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ..compile.plan import BenefitPlan, Comparison, DateBound, FactPlan, PolicyPlan
from ..model.units import Quantity, Unit, UnitError, format_quantity, parse_quantity

_UNITS = "亿元|万元|元|%|％|万吨|吨|人|项|件|分|个月|年|天|日|平方米"
_MENTION = re.compile(
    rf"(?P<n>(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?|[一二两三四五六七八九十]+)\s*(?P<u>{_UNITS})"
)
_CHINESE = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

# (side, inclusive) stated by a word before the number, longest words first.
_BEFORE: tuple[tuple[str, tuple[str, bool]], ...] = tuple(
    sorted(
        {
            "不低于": ("low", True), "不少于": ("low", True), "达到": ("low", True),
            "至少": ("low", True), "超过": ("low", False), "高于": ("low", False),
            "大于": ("low", False), "多于": ("low", False), "不超过": ("high", True),
            "不高于": ("high", True), "不大于": ("high", True), "不多于": ("high", True),
            "不满": ("high", False), "不足": ("high", False), "未满": ("high", False),
            "未达到": ("high", False), "低于": ("high", False), "小于": ("high", False),
            "少于": ("high", False),
        }.items(),
        key=lambda item: -len(item[0]),
    )
)  # fmt: skip
_AFTER: tuple[tuple[str, tuple[str, bool]], ...] = (
    ("及以上", ("low", True)), ("以上", ("low", True)), ("及以下", ("high", True)),
    ("以下", ("high", True)), ("以内", ("high", True)),
)  # fmt: skip
_INCLUDED = re.compile(r"^\s*[（(]\s*(不?)含[^）)]*[）)]")
_RANGE = ("至", "到", "-", "~", "～", "—")
_OPS = {("low", True): "ge", ("low", False): "gt", ("high", True): "le", ("high", False): "lt"}
Facts = Mapping[str, FactPlan]
_WORDS = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}


@dataclass(frozen=True)
class Mention:
    """A number with a unit in a label, and the bound its words state (None: not stated)."""

    quantity: Quantity
    text: str
    side: str | None
    inclusive: bool | None


def mentions(label: str) -> Iterator[Mention]:
    """Every number with a unit in `label`, with the boundary words around it."""
    for match in _MENTION.finditer(label):
        number, unit = match.group("n"), match.group("u")
        if not number[0].isdigit():
            number = str(_chinese_number(number))
        try:
            quantity = parse_quantity(number + unit)
        except UnitError:
            continue
        side, inclusive = _stated(label[: match.start()], label[match.end() :])
        yield Mention(quantity, match.group(0), side, inclusive)


def _chinese_number(text: str) -> int:
    """一 … 九十九 (what labels write for years and months)."""
    if "十" not in text:
        return _CHINESE.get(text[-1], 0) if len(text) == 1 else 0
    tens, _, units = text.partition("十")
    return (_CHINESE.get(tens, 0) if tens else 1) * 10 + (_CHINESE.get(units, 0) if units else 0)


def _stated(before: str, after: str) -> tuple[str | None, bool | None]:
    """The (side, inclusive) the words around a number state."""
    after = after.lstrip()
    if after.startswith(_RANGE):
        return "low", None  # the lower end of `A至B`: its inclusion is the band before's to say
    side: str | None = "high" if before.rstrip().endswith(_RANGE) else None
    inclusive: bool | None = None
    for word, (s, inc) in _BEFORE:
        if before.endswith(word):
            side, inclusive = s, inc
            break
    modifier = _INCLUDED.match(after)
    if modifier is not None:
        after = after[modifier.end() :].lstrip()
    for word, (s, inc) in _AFTER:
        if after.startswith(word):
            if side is not None and side != s:
                return None, None  # 达到…以下: contradictory words state nothing
            side, inclusive = s, inc if inclusive is None else inclusive
            modifier = _INCLUDED.match(after[len(word) :]) or modifier
            break
    if modifier is not None and side is not None:
        inclusive = modifier.group(1) != "不"
    return side, inclusive


# --- criteria --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """One side of a criterion as the label would state it: the side and whether the value is
    included, the value in the label's unit, the operator as written, and whether the fact is a
    date before the evaluation date (a duration: 一年以上 is `le -1年`)."""

    side: str
    inclusive: bool
    value: Decimal
    unit: Unit
    op: str
    reversed: bool = False


def _bounds(leaf: Comparison, fact: FactPlan) -> list[Bound]:
    if leaf.op == "between" and isinstance(leaf.operand, tuple):
        pairs = [("ge", leaf.operand[0]), ("le", leaf.operand[1])]
    elif leaf.op in _WORDS:
        pairs = [(leaf.op, leaf.operand)]
    else:
        return []
    found = []
    for op, operand in pairs:
        side, inclusive = ("low" if op in ("ge", "gt") else "high"), op in ("ge", "le")
        if isinstance(operand, Decimal) and fact.unit is not None:
            found.append(Bound(side, inclusive, operand, fact.unit, op))
        elif isinstance(operand, DateBound) and operand.fixed is None and operand.amount < 0:
            age = "high" if side == "low" else "low"
            found.append(Bound(age, inclusive, Decimal(-operand.amount), operand.unit, op, True))
    return found


def _others_take(bound: Bound, leaf: Comparison, plan: PolicyPlan, facts: Facts) -> bool:
    """Another criterion of the policy on the same fact includes the boundary value from the
    other side (the band before takes it): 2亿元以上 then means above 2亿元."""
    for other, _ in plan.comparisons():
        if other is leaf or other.fact != leaf.fact:
            continue
        for theirs in _bounds(other, facts[other.fact]):
            if theirs.value == bound.value and theirs.side != bound.side and theirs.inclusive:
                return True
    return False


def label_problems(plan: PolicyPlan, facts: Facts) -> Iterator[tuple[Comparison, str]]:
    """Each criterion whose rule disagrees with its label, and how."""
    for leaf, _ in plan.comparisons():
        if not leaf.label:
            continue
        said = list(mentions(leaf.label))
        for bound in _bounds(leaf, facts[leaf.fact]):
            problem = _compare(bound, leaf, said, plan, facts)
            if problem is not None:
                yield leaf, problem


def _compare(
    bound: Bound, leaf: Comparison, said: list[Mention], plan: PolicyPlan, facts: Facts
) -> str | None:
    same_unit = [m for m in said if m.quantity.unit is bound.unit]
    matching = [m for m in same_unit if m.quantity.value == bound.value]
    if not matching:
        return _number_problem(bound, leaf, same_unit)
    mention = matching[0]
    if mention.side is None or (
        mention.side == bound.side and mention.inclusive in (None, bound.inclusive)
    ):
        return None
    if mention.side == bound.side and _others_take(bound, leaf, plan, facts):
        return None
    inclusive = bound.inclusive if mention.inclusive is None else mention.inclusive
    stated = _OPS[(mention.side, inclusive)]
    wanted = _REVERSE[stated] if bound.reversed else stated
    rule = "" if bound.reversed else f" ({_WORDS[bound.op]})"
    return (f"the label {leaf.label!r} says {_WORDS[stated]} {mention.text}, the rule is "
            f"`{bound.op}`{rule}: write `{wanted}` instead if the label is right")  # fmt: skip


def _number_problem(bound: Bound, leaf: Comparison, same_unit: list[Mention]) -> str | None:
    """The label states one number in the rule's unit, and not the rule's threshold."""
    if len(same_unit) != 1 or bound.reversed:
        return None  # no number to compare, or several and none of them this one
    label = same_unit[0]
    return (f"the label {leaf.label!r} says {label.text}, the rule's threshold is "
            f"{format_quantity(bound.value, bound.unit, 'zh')}: write "
            f"`{bound.op}: {format_quantity(label.quantity.value, bound.unit, 'zh')}` if the "
            "label is right")  # fmt: skip


_REVERSE = {"ge": "le", "le": "ge", "gt": "lt", "lt": "gt"}


# --- benefits --------------------------------------------------------------------------------


def benefit_problem(benefit: BenefitPlan) -> str | None:
    """The benefit's text names percentages, none of them its rate (`5%` for `rate: 0.05%`)."""
    factor = benefit.factor
    if factor is None or factor.unit is not Unit.RATIO or benefit.kind == "tax_rate":
        return None
    said = [m for m in mentions(benefit.zh) if m.quantity.unit is Unit.RATIO]
    if not said or any(m.quantity.value == factor.rate for m in said):
        return None
    return (f"the benefit's text {benefit.zh!r} says {said[0].text}, its rate is "
            f"{format_quantity(factor.rate, Unit.RATIO, 'zh')}: write "
            f"{format_quantity(said[0].quantity.value, Unit.RATIO, 'zh')} if the text is right")  # fmt: skip


__all__ = ["Mention", "benefit_problem", "label_problems", "mentions"]
