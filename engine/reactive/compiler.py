"""Compile the policy set's plan into durable_rules rulesets, keeping three verdicts apart.

durable_rules fires a rule when its pattern holds and has no NOT, no `in`, and a comparison on a
missing field is simply false. For each policy we therefore compile (Kleene, `not` pushed to the
leaves, `in` as equalities, a leaf true or false only when its fact is present):

* `eligible`      definitely true:  T(when) and F(every unless) and the zone applies;
* `ineligible`    definitely false: F(when) or T(some unless), and the zone applies;
* `needs_review`  unknown only because of facts an expert must judge (`R` below);
* `not_in_force`  the enterprise's zone lies outside the policy's zones;
* none firing     undetermined.

Policies not in force get no rules (applications on `as_of`, tax-year preferences for the tax
year: `plan.Dates`). A fact read by tax-year preferences is asserted as its own field (`fact__ty`)
with its value for the tax year, beside the field of its value on the evaluation date. Facts are asserted already computed and
normalised by the engine (one flat fact per enterprise and ruleset): quantities as floats in an
order-preserving encoding against the thresholds of the same fact, dates as day numbers,
booleans, and codes as text. durable's limits are enforced here, with a clear error.
"""

from __future__ import annotations

import bisect
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ..compile.plan import (
    Attaches,
    Comparison,
    DateBound,
    Dates,
    FactPlan,
    FactType,
    Node,
    PolicyPlan,
    SetPlan,
)
from ..reference.context import Context, Missing, Resolved
from ..reference.results import Status

# durable_rules limits (its engine's fixed buffer sizes), with margins.
MAX_SET_VALUES = 400  # values of one `in` / `not_in` set
MAX_SIBLINGS = 500  # conditions in one and/or group: > 511 hangs durable's registration
MAX_GROUPS = 14  # nested $and/$or groups below a pattern's top group (15 → error 113)
MAX_FIELDS = 253  # user properties per fact (254 → error 302)
MAX_RULES_PER_RULESET = 48  # > 64 sibling conditions matching one fact → error 303

KIND, ZONE = "__kind", "__zone"
TAG = {KIND: "profile"}
CATCH_ALL = "__seen"


class ReactiveCompileError(ValueError):
    """A policy the durable_rules back end cannot hold; says which and why."""


# --- a small expression algebra with constants, simplified as it is built -------------------

Expr = dict[str, Any] | bool  # a durable condition, or a constant


def _group(kind: str, items: Iterable[Expr]) -> Expr:
    absorbing, neutral = (False, True) if kind == "$and" else (True, False)
    flat: list[dict[str, Any]] = []
    for item in items:
        if item is absorbing:
            return absorbing
        if item is neutral:
            continue
        assert isinstance(item, dict)
        flat.extend(item.get(kind, [item]))
    if not flat:
        return neutral
    return flat[0] if len(flat) == 1 else {kind: flat}


def all_of(*items: Expr) -> Expr:
    return _group("$and", items)


def any_of(*items: Expr) -> Expr:
    return _group("$or", items)


def groups(expr: Expr) -> int:
    """Nested $and/$or groups below the top one (durable's 32-slot expression limit)."""

    def count(node: Any) -> int:
        if not isinstance(node, dict):
            return 0
        key = next(iter(node))
        if key in ("$and", "$or"):
            return 1 + sum(count(child) for child in node[key])
        return 0

    if not isinstance(expr, dict):
        return 0
    key = next(iter(expr))
    return sum(count(child) for child in expr[key]) if key in ("$and", "$or") else 0


def widest(expr: Expr) -> int:
    if not isinstance(expr, dict):
        return 0
    key = next(iter(expr))
    if key in ("$and", "$or"):
        return max(len(expr[key]), *(widest(child) for child in expr[key]))
    return 1


# --- fact fields and their encoding -----------------------------------------------------------


@dataclass
class FieldCodec:
    """How one catalogue fact is asserted: its field, and what durable compares it with."""

    fact: FactPlan
    thresholds: list[Decimal] = field(default_factory=list)
    review: bool = False  # a missing value may mean "an expert must judge"
    upper: bool = False  # prefix tests need the upper-cased code
    attaches: Attaches = "application"  # which basis its value is computed on

    @property
    def name(self) -> str:
        return codec_name(self.fact.id, self.attaches)

    @property
    def review_name(self) -> str:
        return f"{self.name}__review"

    @property
    def upper_name(self) -> str:
        return f"{self.name}__upper"

    def fields(self) -> list[str]:
        return [self.name] + [self.review_name] * self.review + [self.upper_name] * self.upper

    def finish(self) -> None:
        """Check the thresholds can be told apart as floats."""
        self.thresholds = sorted(set(self.thresholds))
        floats = [float(t) for t in self.thresholds]
        for low, high, f_low, f_high in zip(
            self.thresholds, self.thresholds[1:], floats, floats[1:], strict=False
        ):
            if math.nextafter(f_low, math.inf) >= f_high:
                raise ReactiveCompileError(
                    f"thresholds {low} and {high} of fact {self.name!r} are too close to be told "
                    "apart as floating-point numbers"
                )

    def number(self, value: Decimal) -> float:
        """A float that compares with every threshold of this fact as `value` does."""
        ts, floats = self.thresholds, [float(t) for t in self.thresholds]
        f = (
            float(value)
            if abs(value) < Decimal(sys.float_info.max)
            else math.copysign(sys.float_info.max, value)
        )
        i = bisect.bisect_left(ts, value)
        if i < len(ts) and ts[i] == value:
            return floats[i]
        if i > 0:  # above ts[i-1]
            f = max(f, math.nextafter(floats[i - 1], math.inf))
        if i < len(ts):  # below ts[i]
            f = min(f, math.nextafter(floats[i], -math.inf))
        return f

    def encode(self, value: Resolved, out: dict[str, Any]) -> None:
        if isinstance(value, Missing):
            if self.review and value.review:
                out[self.review_name] = True
            return
        kind = self.fact.type
        if kind is FactType.QUANTITY:
            assert isinstance(value, Decimal)
            out[self.name] = self.number(value)
        elif kind is FactType.DATE:
            assert isinstance(value, date)
            out[self.name] = value.toordinal()
        elif kind is FactType.BOOL:
            out[self.name] = bool(value)
        else:
            assert isinstance(value, str)
            out[self.name] = value
            if self.upper:
                out[self.upper_name] = value.upper()


# --- one condition tree → T / F / R ------------------------------------------------------------


Verdicts = tuple[Expr, Expr, Expr]  # (definitely true, definitely false, review-unknown)
_SIMPLE = {"eq": "$eq", "ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_FLIP = {"$eq": "$neq", "$neq": "$eq", "$lt": "$gte", "$gte": "$lt", "$gt": "$lte", "$lte": "$gt"}


def codec_name(fact: str, attaches: Attaches) -> str:
    """The field a fact's value on a basis is asserted as."""
    return fact if attaches == "application" else f"{fact}__ty"


@dataclass
class _Tree:
    """Compiles one tree in the context of one policy, filling the codecs it needs."""

    policy_id: str
    as_of: date  # the day of the policy's basis (`plan.Basis.on`)
    codecs: dict[str, FieldCodec]
    facts: Mapping[str, FactPlan]
    attaches: Attaches = "application"

    def codec(self, defn: FactPlan) -> FieldCodec:
        name = codec_name(defn.id, self.attaches)
        found = self.codecs.get(name)
        if found is None:
            # A review field for every fact whose unknown may need an expert (the plan's
            # `may_need_review`: judgement facts and formulas over them); the engine's value
            # says whether this unknown does.
            found = self.codecs[name] = FieldCodec(
                defn, review=defn.may_need_review, attaches=self.attaches
            )
        return found

    def fail(self, leaf: Comparison, why: str) -> ReactiveCompileError:
        where = ".".join(map(str, leaf.where.path))
        return ReactiveCompileError(f"policy {self.policy_id} ({where}): {why}")

    def operand(self, codec: FieldCodec, raw: Any) -> Any:
        if isinstance(raw, DateBound):
            return raw.resolve(self.as_of).toordinal()
        if isinstance(raw, Decimal):
            codec.thresholds.append(raw)
            return raw  # replaced by its float in `encode_operands`
        return raw

    def leaf(self, leaf: Comparison) -> Verdicts:
        codec = self.codec(self.facts[leaf.fact])
        review: Expr = {"$ex": {codec.review_name: 1}} if codec.review else False
        op = leaf.op
        if op in _SIMPLE:
            value = self.operand(codec, leaf.operand)
            kind = _SIMPLE[op]
            return _cmp(codec.name, kind, value), _cmp(codec.name, _FLIP[kind], value), review
        if op in ("between", "within"):
            return (*self.interval(leaf, codec), review)
        if op in ("in", "not_in"):
            return (*self.one_of(leaf, codec), review)
        if op == "prefix_in":
            return (*self.prefixes(leaf, codec), review)
        raise self.fail(
            leaf,
            f"operator {op!r} has no durable_rules form here (lists of codes are not supported)",
        )

    def interval(self, leaf: Comparison, codec: FieldCodec) -> tuple[Expr, Expr]:
        f = codec.name
        if leaf.op == "between":
            low, high = (self.operand(codec, x) for x in leaf.operand)  # type: ignore[attr-defined]
            return (
                all_of(_cmp(f, "$gte", low), _cmp(f, "$lte", high)),
                any_of(_cmp(f, "$lt", low), _cmp(f, "$gt", high)),
            )
        start = self.operand(codec, leaf.operand)
        today = self.as_of.toordinal()
        return (
            all_of(_cmp(f, "$gt", start), _cmp(f, "$lte", today)),
            any_of(_cmp(f, "$lte", start), _cmp(f, "$gt", today)),
        )

    def one_of(self, leaf: Comparison, codec: FieldCodec) -> tuple[Expr, Expr]:
        values = sorted((self.operand(codec, x) for x in leaf.operand), key=str)  # type: ignore[attr-defined]
        if len(values) > MAX_SET_VALUES:
            raise self.fail(
                leaf,
                f"{leaf.op} lists {len(values)} values; durable_rules holds at most "
                f"{MAX_SET_VALUES} per set (above 511 its registration never returns)",
            )
        inside = any_of(*(_cmp(codec.name, "$eq", v) for v in values))
        outside = all_of(*(_cmp(codec.name, "$neq", v) for v in values))
        return (inside, outside) if leaf.op == "in" else (outside, inside)

    def prefixes(self, leaf: Comparison, codec: FieldCodec) -> tuple[Expr, Expr]:
        codec.upper = True
        u = codec.upper_name
        ranges: list[tuple[str, str]] = []
        for prefix in leaf.operand:  # type: ignore[attr-defined]
            if not prefix:
                return {"$ex": {u: 1}}, False
            last = ord(prefix[-1]) + 1
            if last > sys.maxunicode or 0xD800 <= last <= 0xDFFF:
                raise self.fail(leaf, f"prefix {prefix!r} cannot be turned into a range")
            ranges.append((prefix, prefix[:-1] + chr(last)))  # s starts with p ⟺ p ≤ s < bound
        return (
            any_of(*(all_of({"$gte": {u: low}}, {"$lt": {u: high}}) for low, high in ranges)),
            all_of(*(any_of({"$lt": {u: low}}, {"$gte": {u: high}}) for low, high in ranges)),
        )

    def compile(self, node: Node) -> Verdicts:
        """(definitely true, definitely false, unknown only for want of expert judgement)."""
        if isinstance(node, Comparison):
            return self.leaf(node)
        parts = [self.compile(child) for child in node.children]
        if node.kind == "not":
            t, f, r = parts[0]
            return f, t, r
        return _combine(parts, want_true=node.kind == "all")


def _cmp(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {name: value} if kind == "$eq" else {kind: {name: value}}


def _combine(parts: list[tuple[Expr, Expr, Expr]], want_true: bool) -> tuple[Expr, Expr, Expr]:
    """`all` (want_true) or `any` of compiled children.

    R(all) = every child is true or review-unknown, and one is review-unknown; `any` dually.
    """
    ts, fs, rs = zip(*parts, strict=True)
    if want_true:
        t, f = all_of(*ts), any_of(*fs)
    else:
        t, f = any_of(*ts), all_of(*fs)
    settled = ts if want_true else fs
    open_ = [i for i, r in enumerate(rs) if r is not False]
    if len(open_) == 1:  # one child can be review-unknown: it is, and the others are settled
        j = open_[0]
        r = all_of(*(s for i, s in enumerate(settled) if i != j), rs[j])
    else:
        r = all_of(*(any_of(s, r) for s, r in zip(settled, rs, strict=True)), any_of(*rs))
    return t, f, r


# --- policies → rulesets ------------------------------------------------------------------------


@dataclass
class PolicyRules:
    policy_id: str
    rules: dict[Status, list[Expr]]  # verdict → alternative patterns (without the type tag)
    fields: set[str]


@dataclass
class Ruleset:
    """One chunk of policies: the rules and the fields of the fact asserted for it."""

    index: int
    policies: list[PolicyRules]
    codecs: list[FieldCodec]

    def rule_count(self) -> int:
        return 1 + sum(len(alts) for p in self.policies for alts in p.rules.values())


@dataclass
class Program:
    """Everything a reactive session asserts and matches for one policy set on one date."""

    dates: Dates
    rulesets: list[Ruleset]
    constant: dict[str, Status]  # policies not in force on their basis
    policy_ids: list[str]
    # Policies whose needs-review condition is too large for durable_rules: when none of their
    # rules fires, needs_review vs undetermined is decided by the reference evaluator.
    review_by_reference: set[str] = field(default_factory=set)

    @property
    def as_of(self) -> date:
        return self.dates.as_of

    def facts(self, ctx: Mapping[Attaches, Context], zone: str | None) -> list[dict[str, Any]]:
        """The fact to assert into each ruleset (without sid and id), from the contexts of
        both bases (`PolicySet.contexts`)."""
        return [self.fact(index, ctx, zone) for index in range(len(self.rulesets))]

    def fact(self, index: int, ctx: Mapping[Attaches, Context], zone: str | None) -> dict[str, Any]:
        """The fact to assert into ruleset `index` (without sid and id)."""
        fact: dict[str, Any] = dict(TAG)
        if zone is not None:
            fact[ZONE] = zone
        for codec in self.rulesets[index].codecs:
            codec.encode(ctx[codec.attaches].get(codec.fact.id), fact)
        return fact


def _encode_numbers(expr: Expr, codecs: dict[str, FieldCodec]) -> Expr:
    """Replace Decimal operands by their floats (after all thresholds are known)."""
    if isinstance(expr, bool):
        return expr
    out: dict[str, Any] = {}
    for key, value in expr.items():
        if key in ("$and", "$or"):
            out[key] = [_encode_numbers(v, codecs) for v in value]
        elif isinstance(value, dict):
            out[key] = {
                f: (codecs[f].number(v) if isinstance(v, Decimal) else v) for f, v in value.items()
            }
        else:
            out[key] = codecs[key].number(value) if isinstance(value, Decimal) else value
    return out


MAX_ALTERNATIVES = 16  # rules one verdict of one policy may be split into


def _fits(expr: Expr) -> bool:
    return groups(all_of(TAG, expr)) <= MAX_GROUPS


def _split(expr: Expr) -> list[Expr]:
    """Alternatives whose disjunction is `expr`, each small enough for one durable rule:
    a top-level `$or` becomes one rule per branch, and `(A or B) and C` becomes `A and C`,
    `B and C` (results are collected as sets, so overlapping alternatives are harmless)."""
    if _fits(expr) or not isinstance(expr, dict):
        return [expr]
    if "$or" in expr:
        branches = list(expr["$or"])
    else:
        items = expr.get("$and", [])
        ors = [i for i, item in enumerate(items) if isinstance(item, dict) and "$or" in item]
        if not ors:
            return [expr]
        i = max(ors, key=lambda k: groups(all_of(TAG, items[k])))
        rest = items[:i] + items[i + 1 :]
        branches = [all_of(*rest, branch) for branch in items[i]["$or"]]
    out: list[Expr] = []
    for branch in branches:
        out.extend(_split(branch))
        if len(out) > MAX_ALTERNATIVES:  # too many rules already: stop, the caller refuses
            break
    return out


def _check(policy_id: str, verdict: Status, expr: Expr) -> list[Expr]:
    """Split a condition too large for one rule; refuse what still does not fit."""
    alternatives = _split(expr)
    too_big = [alt for alt in alternatives if not _fits(alt)]
    if too_big or len(alternatives) > MAX_ALTERNATIVES:
        why = (
            f"splitting it would need more than {MAX_ALTERNATIVES} rules"
            if len(alternatives) > MAX_ALTERNATIVES
            else f"a part that cannot be split has {groups(all_of(TAG, too_big[0]))} groups"
        )
        raise ReactiveCompileError(
            f"policy {policy_id}: its '{verdict.value}' condition does not fit durable_rules, "
            f"which holds at most {MAX_GROUPS} nested and/or groups in one rule (error 113): "
            f"{why}. Simplify the condition tree."
        )
    for alt in alternatives:
        width = widest(all_of(TAG, alt))
        if width > MAX_SIBLINGS:
            raise ReactiveCompileError(
                f"policy {policy_id}: its '{verdict.value}' condition has a group of "
                f"{width} conditions; durable_rules holds at most {MAX_SIBLINGS} "
                "(above 511 its registration never returns)"
            )
    return alternatives


def _fields(expr: Any, out: set[str]) -> set[str]:
    if isinstance(expr, dict):
        for key, value in expr.items():
            if key in ("$and", "$or"):
                for child in value:
                    _fields(child, out)
            elif isinstance(value, dict):
                out.update(value)
            else:
                out.add(key)
    return out


Compiled = tuple[str, dict[Status, Expr], set[str]]  # policy id, rules by verdict, fields


def compile_program(plan: SetPlan, as_of: date, tax_year: int | None = None) -> Program:
    """Compile a policy set's plan for evaluation on `as_of` (tax-year preferences for
    `tax_year`, default the year before)."""
    dates = Dates.of(as_of, tax_year)
    codecs: dict[str, FieldCodec] = {}
    compiled: list[Compiled] = []
    constant: dict[str, Status] = {}
    for policy in plan.policies:
        on = dates.basis(policy.attaches).on
        if not policy.effective.covers(on):
            constant[policy.id] = Status.NOT_IN_FORCE
        else:
            tree = _Tree(policy.id, on, codecs, plan.facts, policy.attaches)
            compiled.append(_policy_rules(policy, tree))
    for codec in codecs.values():
        names = (codec.upper_name, codec.review_name, codec_name(codec.fact.id, "tax_year"))
        if any(name in plan.facts for name in names):
            raise ReactiveCompileError(f"fact names clash with the fields of fact {codec.name!r}")
        codec.finish()
    rulesets, review_by_reference = _rulesets(compiled, codecs)
    ids = [policy.id for policy in plan.policies]
    return Program(dates, rulesets, constant, ids, review_by_reference)


def _policy_rules(policy: PolicyPlan, tree: _Tree) -> Compiled:
    """One policy's rules by verdict, with the fields they read."""
    parts: list[Verdicts] = []
    for criterion in policy.criteria:
        t, f, r = tree.compile(criterion.node)
        parts.append((f, t, r) if criterion.exclusion else (t, f, r))  # exclusions count negated
    true, false, review = _combine(parts, want_true=True) if parts else (True, False, False)
    if policy.applies_in is None:
        inside: Expr = True
        outside: Expr = False
    else:
        zones = sorted(policy.applies_in)
        if len(zones) > MAX_SET_VALUES:
            raise ReactiveCompileError(f"policy {policy.id}: applies in too many zones")
        inside = any_of(*({ZONE: z} for z in zones))
        outside = all_of(*({"$neq": {ZONE: z}} for z in zones))
    verdicts: dict[Status, Expr] = {
        Status.ELIGIBLE: all_of(inside, true),
        # Without a zone nothing is decided: a zone elsewhere would make it not_in_force.
        Status.INELIGIBLE: all_of(inside, false),
        Status.NEEDS_REVIEW: all_of(inside, review),
        Status.NOT_IN_FORCE: outside,
    }
    rules: dict[Status, Expr] = {v: e for v, e in verdicts.items() if e is not False}
    used: set[str] = set()
    for expr in rules.values():
        _fields(expr, used)
    return policy.id, rules, used - {ZONE}


def _rulesets(
    compiled: list[Compiled], codecs: dict[str, FieldCodec]
) -> tuple[list[Ruleset], set[str]]:
    """The policies' rules split to fit durable_rules and packed into rulesets; and the
    policies whose needs-review rule did not fit (the reference decides those)."""
    rulesets: list[Ruleset] = []
    review_by_reference: set[str] = set()
    for policy_id, rules, used in compiled:
        split: dict[Status, list[Expr]] = {}
        for verdict, expr in rules.items():
            try:
                alternatives = _check(policy_id, verdict, expr)
            except ReactiveCompileError:
                if verdict is not Status.NEEDS_REVIEW:
                    raise
                review_by_reference.add(policy_id)
                continue
            split[verdict] = [_encode_numbers(alt, codecs) for alt in alternatives]
        _pack(rulesets, PolicyRules(policy_id, split, used))
    by_field = {name: c for c in codecs.values() for name in c.fields()}
    for ruleset in rulesets:
        names = set().union(*(p.fields for p in ruleset.policies))
        ruleset.codecs = sorted({id(by_field[n]): by_field[n] for n in names}.values(),
                                key=lambda c: c.name)  # fmt: skip
    return rulesets, review_by_reference


def _pack(rulesets: list[Ruleset], policy: PolicyRules) -> None:
    """Add a policy to the last ruleset if it fits there, else to a new one."""
    needed = 1 + sum(len(a) for a in policy.rules.values())
    if len(policy.fields) + 2 > MAX_FIELDS or needed > MAX_RULES_PER_RULESET:
        raise ReactiveCompileError(
            f"policy {policy.policy_id} needs {len(policy.fields)} facts and {needed} rules; "
            f"durable_rules holds at most {MAX_FIELDS - 2} and {MAX_RULES_PER_RULESET}"
        )
    current = rulesets[-1] if rulesets else None
    if current is not None:
        fields = set().union(*(p.fields for p in current.policies), policy.fields)
        if len(fields) + 2 <= MAX_FIELDS and current.rule_count() + needed - 1 <= (
            MAX_RULES_PER_RULESET
        ):
            current.policies.append(policy)
            return
    rulesets.append(Ruleset(len(rulesets), [policy], []))


def rule_name(policy_index: int, verdict: Status, alternative: int) -> str:
    return f"{policy_index}|{verdict.value}|{alternative}"


def definition(ruleset: Ruleset, offset: int) -> dict[str, dict[str, Any]]:
    """durable rules for one chunk (without actions); policy indexes start at `offset`."""
    rules: dict[str, dict[str, Any]] = {CATCH_ALL: {"all": [{"m": dict(TAG)}]}}
    for index, policy in enumerate(ruleset.policies, start=offset):
        for verdict, alternatives in policy.rules.items():
            for k, alt in enumerate(alternatives):
                pattern = all_of(TAG, alt)
                assert isinstance(pattern, dict)
                rules[rule_name(index, verdict, k)] = {"all": [{"m": pattern}]}
    return rules
