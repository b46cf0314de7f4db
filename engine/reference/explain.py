"""Explanations: the evaluated tree, the facts that matter when it is unknown, and for an
ineligible policy the failing criteria with what it would take to pass, closest first."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from ..compile.plan import (
    FORMULA_KINDS,
    Comparison,
    DateBound,
    FactPlan,
    FactType,
    Group,
    RatioSource,
)
from ..model.units import Unit, format_quantities, shift_date
from .conditions import CLeaf, CNode, Truths
from .context import (
    SAYS_WHY,
    Context,
    Missing,
    Resolved,
    Value,
    origin,
)
from .logic import (
    FALSE,
    TRUE,
    UNKNOWN,
    Truth,
)
from .results import (
    Gap,
    Outcome,
    Text,
    Trace,
    assemble,
    assemble_filled,
    blank,
    text,
)


def truths_of(ctx: Context) -> Truths:
    """Every node's truth on the context (`conditions.Truths`): one for the whole evaluation
    where the context keeps a `memo` (its facts never change, and the trees, gaps and ways of
    all its policies ask for the same nodes), else a fresh one."""
    memo = ctx.memo
    if memo is None:
        return Truths(ctx)
    found = memo.get(Truths)
    if found is None:
        found = memo[Truths] = Truths(ctx)
    return found


_SYMBOL = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
_FLIP = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "eq": "ne", "ne": "eq"}


# The texts of values that are the same for every fact (results are frozen: they may share).
_REVIEW = text(zh="待专家判断", en="needs expert review")
_NOT_PROVIDED = text(zh="未提供", en="not provided")
_YES, _NO = text(zh="是", en="yes"), text(zh="否", en="no")


def value_text(defn: FactPlan, value: Any) -> Text:
    if isinstance(value, Missing):
        return _REVIEW if value.review else _NOT_PROVIDED
    if defn.type is FactType.QUANTITY:
        assert defn.unit is not None
        zh, en = format_quantities(value, defn.unit)
        return text(zh=zh, en=en)
    if defn.type is FactType.BOOL:
        return _YES if value else _NO
    if defn.type is FactType.CODES:
        joined = ", ".join(sorted(value))
        return text(zh=joined, en=joined)
    shown = value.isoformat() if isinstance(value, date) else str(value)
    return text(zh=shown, en=shown)


def _date_text(bound: DateBound, as_of: date) -> Text:
    day = bound.resolve(as_of).isoformat()
    if bound.fixed is not None:
        return text(zh=day, en=day)
    n, unit = abs(bound.amount), bound.unit
    zh_unit = {Unit.YEAR: "年", Unit.MONTH: "个月", Unit.DAY: "天"}[unit]
    en_unit = unit.value + ("s" if n != 1 else "")
    side_zh, side_en = ("前", "before") if bound.amount < 0 else ("后", "after")
    return text(
        zh=f"{day}（评估日{side_zh}{n}{zh_unit}）",
        en=f"{day} ({n} {en_unit} {side_en} the evaluation date)",
    )


def _operand_text(defn: FactPlan, operand: Any, as_of: date) -> Text:
    if isinstance(operand, DateBound):
        return _date_text(operand, as_of)
    if isinstance(operand, Decimal) and defn.unit is not None:
        zh, en = format_quantities(operand, defn.unit)
        return text(zh=zh, en=en)
    if isinstance(operand, bool):
        return text(zh="是" if operand else "否", en="yes" if operand else "no")
    return text(zh=str(operand), en=str(operand))


def threshold_text(
    leaf: Comparison, defn: FactPlan, as_of: date, op: str | None = None
) -> Text:
    """`≥ 10%`, `≤ 2025-11-24 (1 year before the evaluation date)`, `∈ {A, B}`."""
    op = op or leaf.op
    operand: Any = leaf.operand
    if op in _SYMBOL:
        shown = _operand_text(defn, operand, as_of)
        return text(zh=f"{_SYMBOL[op]} {shown.zh}", en=f"{_SYMBOL[op]} {shown.en}")
    if op == "between":
        low, high = (_operand_text(defn, x, as_of) for x in operand)
        return text(
            zh=f"介于 {low.zh} 与 {high.zh} 之间（含）",
            en=f"between {low.en} and {high.en} inclusive",
        )
    if op in ("in", "not_in", "prefix_in"):
        items = sorted(operand, key=str)
        texts = [_operand_text(defn, x, as_of) for x in items]
        zh_items, en_items = "、".join(t.zh for t in texts), ", ".join(t.en for t in texts)
        if op == "in":
            return text(zh=f"属于 {zh_items}", en=f"one of {en_items}")
        if op == "not_in":
            return text(zh=f"不属于 {zh_items}", en=f"none of {en_items}")
        return text(zh=f"以 {zh_items} 开头", en=f"starts with {en_items}")
    if op == "contains":
        return text(zh=f"包含 {operand}", en=f"includes {operand}")
    assert op == "within"
    start = _date_text(operand, as_of)
    return text(zh=f"晚于 {start.zh}", en=f"after {start.en}")


# A node's outcome by its truth; a leaf's unknown is "review" when its fact awaits an expert.
_OUTCOMES: dict[Truth, Outcome] = {TRUE: "true", FALSE: "false", UNKNOWN: "unknown"}


_TRACE = {**blank(Trace), "exclusion": False, "children": []}  # the defaults, in order


def trace_node(**fields: Any) -> Trace:
    """A `Trace` of the fields given (the others their defaults), not validated again."""
    values = _TRACE.copy()
    values.update(fields)
    return assemble(Trace, values)


def trace(
    node: CNode,
    ctx: Context,
    article: str | None,
    exclusion: bool = False,
    truths: Truths | None = None,
) -> Trace:
    """The evaluated tree; a criterion without its own article cites its nearest ancestor's."""
    plan = _cached(node, ("trace", article, exclusion, ctx.as_of, ctx.last_year),
                   lambda: _trace_plan(node, ctx, article, exclusion))  # fmt: skip
    return _traced(plan, ctx, truths_of(ctx) if truths is None else truths)


# A node's trace as far as the policy (and for a leaf the evaluation's day and fiscal year) fix
# it: the node, its fields in `Trace`'s order (outcome, value and children left to fill in),
# its children's (None for a leaf), and for a leaf whose fields the value alone decides (its
# origin fixed) those fields by value (`_leaf_fields`; None for the others).
TracePlan = tuple[
    CNode, dict[str, Any], "tuple[TracePlan, ...] | None", "dict[Any, dict[str, Any]] | None"
]
# How many values a leaf keeps the fields of: most leaves read a flag, a date or a small count,
# which a few values cover; a figure that differs in every profile stops being kept there.
LEAF_VALUES_KEPT = 32


def _trace_plan(node: CNode, ctx: Context, article: str | None, exclusion: bool) -> TracePlan:
    source = node.node
    cited = source.article or article
    if isinstance(node, CLeaf):
        label, fact_label, where, threshold = _leaf_texts(node, ctx)
        return node, {
            "kind": "leaf", "outcome": None, "label": label, "article": cited,
            "provenance": source.provenance, "fact": node.fact_def.id, "fact_label": fact_label,
            "origin": where, "value": None, "value_text": None, "op": node.op,
            "threshold": threshold, "exclusion": exclusion, "children": None,
        }, None, None if where is None else {}  # fmt: skip
    assert isinstance(source, Group)
    return node, {
        "kind": source.kind, "outcome": None, "label": _label(node), "article": cited,
        "provenance": source.provenance, "fact": None, "fact_label": None, "origin": None,
        "value": None, "value_text": None, "op": None, "threshold": None,
        "exclusion": exclusion, "children": None,
    }, tuple(_trace_plan(c, ctx, cited, False) for c in node.children), None  # fmt: skip


def _traced(plan: TracePlan, ctx: Context, truths: Truths) -> Trace:
    """The trace of a plan's node on the context: a copy of its fields with the profile's
    outcome, value and children filled in."""
    node, fixed, children, by_value = plan
    truth = truths[node]
    if children is not None:
        values = fixed.copy()
        values["outcome"] = _OUTCOMES[truth]
        values["children"] = [_traced(child, ctx, truths) for child in children]
        return assemble_filled(Trace, values)
    assert isinstance(node, CLeaf)
    value = ctx[node.fact_def.id]
    if by_value is None:
        values = _leaf_fields(node, fixed, ctx, truth, value)
    else:
        key = (truth, _value_key(value))
        known = by_value.get(key)
        if known is not None:
            values = known.copy()
        else:
            values = _leaf_fields(node, fixed, ctx, truth, value)
            if len(by_value) < LEAF_VALUES_KEPT:
                by_value[key] = values.copy()
    values["children"] = []
    return assemble_filled(Trace, values)


def _value_key(value: Resolved) -> tuple[type, Any]:
    """What texts made of a fact's value are kept by: its type and the value itself, or for a
    Decimal its text (equal numbers may be written differently: 1 and 1.0)."""
    return value.__class__, str(value) if value.__class__ is Decimal else value


def _leaf_fields(
    leaf: CLeaf, fixed: dict[str, Any], ctx: Context, truth: Truth, value: Resolved
) -> dict[str, Any]:
    """A leaf's trace fields but its children: the plan's with the outcome and the value (and
    a formula's or derived fact's origin, which shows the values) filled in."""
    defn = leaf.fact_def
    values = fixed.copy()
    if isinstance(value, Missing):
        values["outcome"] = "review" if truth is UNKNOWN and value.review else _OUTCOMES[truth]
        values["value_text"] = value_text(defn, value)
    else:
        values["outcome"] = _OUTCOMES[truth]
        values["value"] = _raw(value)
        values["value_text"] = _value_text(defn, value, ctx)
    if values["origin"] is None:
        values["origin"] = origin(defn, ctx.last_year, ctx)
    return values


def _value_text(defn: FactPlan, value: Any, ctx: Context) -> Text:
    """`value_text` of a fact's known value, made once per evaluation where the context keeps
    a `memo` (its trace, gaps and opportunities show the same values)."""
    memo = ctx.memo
    if memo is None or defn.type is not FactType.QUANTITY:
        return value_text(defn, value)
    key = defn.id  # the memo's only keys that are texts: fact ids
    found = memo.get(key)
    if found is None:
        found = memo[key] = value_text(defn, value)
    return found


LeafTexts = tuple[Text | None, Text, str | None, Text]


def _leaf_texts(leaf: CLeaf, ctx: Context) -> LeafTexts:
    """A leaf's texts that the evaluation's day and fiscal year fix, made once for them: its
    label, its fact's, where the value comes from (None for a formula, whose text shows the
    values of its parts, and for a derived fact whose unknown value says what to give) and
    the threshold."""

    def make() -> LeafTexts:
        defn = leaf.fact_def
        dynamic = defn.source.kind in FORMULA_KINDS or defn.source.kind in SAYS_WHY
        fixed = None if dynamic else origin(defn, ctx.last_year)
        fact_label = text(zh=defn.zh, en=defn.en)
        return _label(leaf), fact_label, fixed, _threshold(leaf, ctx.as_of, leaf.op)

    return _cached(leaf, ("leaf", ctx.as_of, ctx.last_year), make)  # type: ignore[no-any-return]


def _cached(leaf: CNode, key: Any, make: Any) -> Any:
    """What `make()` gives for this node and `key`, made once (texts fixed by the policy and
    the evaluation date: thresholds, labels). Results are frozen, so they may share them."""
    found = leaf.texts.get(key)
    if found is None:
        found = leaf.texts[key] = make()
    return found


def _label(node: CNode) -> Text | None:
    source = node.node
    if not source.label:
        return None
    label = source.label
    return _cached(node, "label", lambda: text(zh=label, en=source.label_en or label))  # type: ignore[no-any-return]


def _threshold(leaf: CLeaf, as_of: date, op: str) -> Text:
    """`threshold_text` of the leaf, once per operator and evaluation date."""
    return _cached(  # type: ignore[no-any-return]
        leaf, ("threshold", op, as_of),
        lambda: threshold_text(leaf.comparison, leaf.fact_def, as_of, op),
    )  # fmt: skip


def _raw(value: Value) -> str:
    if value.__class__ is Decimal:  # the usual value, first
        return str(value)
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def unknown_leaves(node: CNode, ctx: Context, truths: Truths | None = None) -> list[CLeaf]:
    """Leaves whose value could still change an UNKNOWN node: the minimal facts to ask for.
    Without `truths`, each node's truth comes from its closure (cheaper for the few nodes an
    unknown verdict walks than computing every node's)."""
    return list(iter_unknown_leaves(node, ctx, truths))


def iter_unknown_leaves(
    node: CNode, ctx: Context, truths: Truths | None = None
) -> Iterator[CLeaf]:
    """`unknown_leaves`, one at a time: for a caller that may stop at the first."""
    if (node.fn(ctx) if truths is None else truths[node]) is not UNKNOWN:
        return
    if isinstance(node, CLeaf):
        yield node
        return
    for child in node.children:
        yield from iter_unknown_leaves(child, ctx, truths)


def failing_leaves(
    node: CNode, ctx: Context, want: Truth = TRUE, truths: Truths | None = None
) -> list[tuple[CLeaf, bool]]:
    """Leaves that keep `node` from being `want`, each with whether it must become false."""
    truths = truths_of(ctx) if truths is None else truths
    truth = truths[node]
    if truth is want or truth is UNKNOWN:
        return []
    if isinstance(node, CLeaf):
        return [(node, want is FALSE)]
    if node.node.kind == "not":
        return failing_leaves(node.children[0], ctx, want.negate(), truths)
    return [pair for child in node.children for pair in failing_leaves(child, ctx, want, truths)]


def gap(leaf: CLeaf, negate: bool, ctx: Context, facts: Mapping[str, FactPlan]) -> Gap:
    """What it would take for `leaf` to become true (false if `negate`) on the context's
    values: once per evaluation where the context keeps a `memo` (a result's gaps and its
    opportunity's ways ask for the same leaves)."""
    memo = ctx.memo
    if memo is None:
        return _kept_gap(leaf, negate, ctx, facts)
    key = (leaf, negate)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _kept_gap(leaf, negate, ctx, facts)
    return found


# How many values a leaf keeps the gaps of (as `LEAF_VALUES_KEPT` for its trace).
GAP_VALUES_KEPT = 32


def _kept_gap(leaf: CLeaf, negate: bool, ctx: Context, facts: Mapping[str, FactPlan]) -> Gap:
    """`_gap`, kept by value for the evaluation date where the value alone decides it: every
    fact but a ratio, whose change is worded on its numerator and denominator. Gaps hold no
    lists, so results may share them."""
    defn = leaf.fact_def
    if isinstance(defn.source, RatioSource):
        return _gap(leaf, negate, ctx, facts)
    value = ctx[defn.id]
    by_value: dict[Any, Gap] = _cached(leaf, ("gaps", negate, ctx.as_of), dict)
    key = _value_key(value)
    found = by_value.get(key)
    if found is None:
        found = _gap(leaf, negate, ctx, facts)
        if len(by_value) < GAP_VALUES_KEPT:
            by_value[key] = found
    return found


def _gap(leaf: CLeaf, negate: bool, ctx: Context, facts: Mapping[str, FactPlan]) -> Gap:
    defn = leaf.fact_def
    value = ctx[defn.id]
    values = _gap_template(leaf, negate, ctx.as_of).copy()
    op = values["op_met"]
    del values["op_met"]
    if (
        isinstance(value, Decimal)
        and isinstance(leaf.operand, Decimal)
        and op in ("ge", "gt", "le", "lt")
    ):
        values["change"], values["distance"] = _numeric_change(
            defn, value, leaf.operand, op, ctx, facts
        )
    elif isinstance(value, date) and isinstance(leaf.operand, DateBound) and op in ("le", "lt"):
        values["change"], values["distance"] = _date_change(value, leaf.operand, op, ctx.as_of)
    if not isinstance(value, Missing):
        values["value"] = _value_text(defn, value, ctx)
        values["have"] = _raw(value)
        values["delta"] = _delta(value, leaf.operand, ctx.as_of)
    return assemble_filled(Gap, values)


def _gap_template(leaf: CLeaf, negate: bool, as_of: date) -> dict[str, Any]:
    """A gap's fields that the leaf and the evaluation date fix, in `Gap`'s order (those of the
    value left None), and first the operator the value must meet (`op_met`, for the change)."""

    def make() -> dict[str, Any]:
        defn = leaf.fact_def
        op = _FLIP.get(leaf.op, leaf.op) if negate else leaf.op
        return {
            "op_met": op,
            "fact": defn.id,
            "label": _cached(leaf, "gap_label", lambda: _gap_label(leaf)),
            "article": leaf.node.article,
            "value": None,
            "required": _required(leaf, negate, op, as_of),
            "change": None,
            "distance": None,
            **gap_data(defn, _NO_VALUE, _negated_op(leaf.op, negate), leaf.operand, as_of),
        }

    return _cached(leaf, ("gap", negate, as_of), make)  # type: ignore[no-any-return]


_NO_VALUE = Missing(frozenset())  # what the fixed part of a gap is made of (`_gap_template`)


def _required(leaf: CLeaf, negate: bool, op: str, as_of: date) -> Text:
    def make() -> Text:
        required = _threshold(leaf, as_of, op)
        if negate and leaf.op not in _FLIP:
            return text(zh=f"不得 {required.zh}", en=f"must not be {required.en}")
        return required

    return _cached(leaf, ("required", negate, as_of), make)  # type: ignore[no-any-return]


def _gap_label(leaf: CLeaf) -> Text:
    defn, label = leaf.fact_def, leaf.node.label
    return text(zh=label or defn.zh, en=leaf.node.label_en or label or defn.en)


def _negated_op(op: str, negate: bool) -> str:
    """The operator a value must meet: `op`, its opposite when negated, or `not op`."""
    if not negate:
        return op
    return _FLIP.get(op, f"not {op}")


def gap_data(
    defn: FactPlan, value: Value | Missing, op: str, operand: Any, as_of: date
) -> dict[str, Any]:
    """A gap as data for programs: what the fact is (`have`), what it must be (`op`, `need`),
    the difference for numbers and dates (`delta`, in days for dates), the unit, and how the
    fact can move."""
    unit = defn.unit.value if defn.unit is not None else None
    known = not isinstance(value, Missing)
    return {
        "have": _raw(value) if known else None,  # type: ignore[arg-type]
        "op": op,
        "need": _operand_data(operand, as_of),
        "delta": _delta(value, operand, as_of) if known else None,  # type: ignore[arg-type]
        "unit": "day" if unit is None and defn.type is FactType.DATE else unit,
        "mobility": defn.change,
        "actionable": defn.change == "actionable",
    }


def _delta(value: Value, operand: Any, as_of: date) -> str | None:
    """`need − have` for numbers, in days for dates; None for other values."""
    if isinstance(value, Decimal) and isinstance(operand, Decimal):
        return str(operand - value)
    if isinstance(value, date) and isinstance(operand, DateBound):
        return str((operand.resolve(as_of) - value).days)
    return None


def _operand_data(operand: Any, as_of: date) -> str:
    if isinstance(operand, DateBound):
        return operand.resolve(as_of).isoformat()
    if isinstance(operand, frozenset):
        return ",".join(sorted(_operand_data(x, as_of) for x in operand))
    if isinstance(operand, tuple):  # between's (low, high), prefix_in's prefixes
        return ",".join(_operand_data(x, as_of) for x in operand)
    if isinstance(operand, bool | date | Decimal):
        return _raw(operand)
    return str(operand)


def _numeric_change(
    defn: FactPlan,
    value: Decimal,
    threshold: Decimal,
    op: str,
    ctx: Context,
    facts: Mapping[str, FactPlan],
) -> tuple[Text, Decimal]:
    assert defn.unit is not None
    delta = threshold - value
    strict = op in ("gt", "lt")
    distance = abs(delta) / abs(threshold) if threshold else abs(delta)
    more = "more than " if strict else ""
    if isinstance(defn.source, RatioSource):
        top_id, bottom_id = defn.source.numerator, defn.source.denominator
        top, bottom = ctx[top_id], ctx[bottom_id]
        top_def = facts[top_id]
        if isinstance(top, Decimal) and isinstance(bottom, Decimal) and top_def.unit is not None:
            need = threshold * bottom - top
            sign = "+" if need >= 0 else "−"
            amount_zh, amount_en = format_quantities(abs(need), top_def.unit)
            return (
                text(
                    zh=f"在{facts[bottom_id].zh}不变时，{top_def.zh}需{'增加' if need >= 0 else '减少'}"
                    f"{'超过' if strict else ''}{amount_zh}",
                    en=f"{sign}{more}{amount_en} {top_def.en} at the current {facts[bottom_id].en}",
                ),
                distance,
            )
    amount_zh, amount_en = format_quantities(abs(delta), defn.unit)
    up = delta >= 0
    return (
        text(
            zh=f"需{'增加' if up else '减少'}{'超过' if strict else ''}{amount_zh}",
            en=f"{'+' if up else '−'}{more}{amount_en} needed",
        ),
        distance,
    )


def _date_change(
    value: date, bound: DateBound, op: str, as_of: date
) -> tuple[Text, Decimal] | tuple[None, None]:
    if bound.fixed is not None:
        return None, None
    # value ≤ as_of + offset  ⇔  as_of ≥ value − offset
    ready = shift_date(value, -bound.amount, bound.unit)
    if op == "lt":
        ready = date.fromordinal(ready.toordinal() + 1)
    days = (ready - as_of).days
    return (
        text(
            zh=f"自 {ready.isoformat()} 起满足（还需 {days} 天）",
            en=f"met from {ready.isoformat()} ({days} days from now)",
        ),
        Decimal(days) / Decimal(365),
    )
