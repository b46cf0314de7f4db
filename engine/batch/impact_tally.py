"""The report of an impact run (`impact.impact_register`), tallied batch by batch from the
side-by-side results (memory does not grow with the register): per policy the enterprises by
status transition, the amounts under each set by benefit kind and zone, a few example
enterprises per transition; for the register the enterprises better and worse off and the
change in cost, with the part that rests on illustrative policies.

An enterprise is *better off* when, summed over every policy, the cash and tax saving it is
paid rises; at equal cash and tax saving, when its additional deductions rise; at equal both,
when it is eligible for more policies (a service gained). *Worse off* is the reverse. Amounts
count eligible results only, after stacking, as `screen` reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from ..check.diff import ChangeKind, SetDiff
from .columns import ROW, SCALE
from .results import BadRows, money_text

if TYPE_CHECKING:
    from ..policyset import PolicySet
    from .impact_explain import SideBySide

KINDS = ("cash", "tax_saving", "deduction")
MONEY = ("cash", "tax_saving")  # what "paid" means; deductions reduce taxable income instead
ABSENT = "absent"  # the status of a policy a set does not have, as written and reported
Transition = tuple[str, str, str]  # (policy, base status, candidate status)


@dataclass
class Example:
    """One enterprise of a transition; the explanation when asked for (`explain_transitions`)."""

    policy_id: str
    before: str
    after: str
    row: int
    credit_code: str | None
    index: int  # its place among the transition's examples, from 0
    explanation: SideBySide | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"row": self.row, "credit_code": self.credit_code}
        if self.explanation is not None:
            data["explanation"] = self.explanation.to_json()
        return data


@dataclass
class ImpactReport(BadRows):
    """What changing the base set into the candidate does to a register."""

    diff: SetDiff
    illustrative: dict[str, bool]  # policy → rests on an illustrative source (either set)
    examples_per_transition: int = 3
    rows: int = 0
    bad_count: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    better_off: int = 0
    worse_off: int = 0
    transitions: dict[Transition, int] = field(default_factory=dict)
    amount_changed: dict[str, int] = field(default_factory=dict)  # same status, other amount
    # (policy, zone, kind) → [base total, candidate total] in yuan, eligible results only
    amounts: dict[tuple[str, str, str], list[Decimal]] = field(default_factory=dict)
    examples: dict[Transition, list[Example]] = field(default_factory=dict)

    @classmethod
    def start(
        cls, diff: SetDiff, base: PolicySet, candidate: PolicySet, examples: int
    ) -> ImpactReport:
        illustrative: dict[str, bool] = {}
        for policy_set in (base, candidate):
            for plan in policy_set.policies:
                marked = plan.source.provenance == "illustrative"
                illustrative[plan.id] = illustrative.get(plan.id, False) or marked
        return cls(diff, illustrative, examples)

    def add(self, side_by_side: pl.DataFrame, changed: pl.DataFrame) -> list[Example]:
        """Tally a batch (`impact.impact_cells`) and its changed rows; return the examples
        this batch added (the caller explains those it wants)."""
        statuses = side_by_side.with_columns(
            pl.col("base_status", "candidate_status").fill_null(ABSENT)
        )
        for policy, before, after, n in (
            statuses.group_by("policy_id", "base_status", "candidate_status").len().iter_rows()
        ):
            key = (policy, before, after)
            self.transitions[key] = self.transitions.get(key, 0) + n
        self._amounts(side_by_side)
        self._better_or_worse(side_by_side)
        same = changed.filter(pl.col("base_status").eq_missing(pl.col("candidate_status")))
        for policy, n in same.group_by("policy_id").len().iter_rows():
            self.amount_changed[policy] = self.amount_changed.get(policy, 0) + n
        return self._examples(changed)

    def _amounts(self, frame: pl.DataFrame) -> None:
        for index, side in enumerate(("base", "candidate")):
            paid = frame.filter(
                (pl.col(f"{side}_status") == "eligible") & pl.col(f"{side}_kind").is_in(KINDS)
            )
            sums = paid.group_by(
                "policy_id", pl.col("zone").fill_null("(unknown)"), f"{side}_kind"
            ).agg(pl.col(f"{side}_amount").sum())
            for policy, zone, kind, micro in sums.iter_rows():
                totals = self.amounts.setdefault((policy, zone, kind), [Decimal(0), Decimal(0)])
                totals[index] += Decimal(micro or 0) / SCALE

    def _better_or_worse(self, frame: pl.DataFrame) -> None:
        def paid(side: str, kinds: tuple[str, ...]) -> pl.Expr:
            status, kind = pl.col(f"{side}_status"), pl.col(f"{side}_kind")
            counted = (status == "eligible") & kind.is_in(kinds)
            return pl.when(counted).then(pl.col(f"{side}_amount")).otherwise(0).sum()

        def eligible(side: str) -> pl.Expr:
            return (pl.col(f"{side}_status") == "eligible").sum().cast(pl.Int128)

        per = frame.group_by(ROW).agg(
            (paid("candidate", MONEY) - paid("base", MONEY)).alias("money"),
            (paid("candidate", ("deduction",)) - paid("base", ("deduction",))).alias("deduction"),
            (eligible("candidate") - eligible("base")).alias("count"),
        )
        first = (
            pl.when(pl.col("money") != 0)
            .then(pl.col("money"))
            .when(pl.col("deduction") != 0)
            .then(pl.col("deduction"))
            .otherwise(pl.col("count"))
        )
        signs = per.select((first > 0).sum().alias("up"), (first < 0).sum().alias("down"))
        self.better_off += int(signs["up"][0] or 0)
        self.worse_off += int(signs["down"][0] or 0)

    def _examples(self, changed: pl.DataFrame) -> list[Example]:
        wanted = self.examples_per_transition
        if wanted <= 0 or changed.is_empty():
            return []
        keys = ["policy_id", "base_status", "candidate_status"]
        picked = (
            changed.with_columns(pl.col("base_status", "candidate_status").fill_null(ABSENT))
            .group_by(keys, maintain_order=True)
            .head(wanted)
        )
        added: list[Example] = []
        for policy, before, after, row, code in picked.select(*keys, ROW, "credit_code").iter_rows():
            known = self.examples.setdefault((policy, before, after), [])
            if len(known) < wanted:
                example = Example(policy, before, after, row, code, len(known))
                known.append(example)
                added.append(example)
        return added

    # --- reading the report -------------------------------------------------------------------

    def kind_of(self, policy_id: str) -> ChangeKind:
        return self.diff.kind_of(policy_id)

    def policy_ids(self) -> list[str]:
        return [p.policy_id for p in self.diff.policies]

    def totals(
        self, policy_id: str | None = None, zone: str | None = None
    ) -> dict[str, list[Decimal]]:
        """Base and candidate totals by kind, over one policy and one zone (None: all)."""
        out = {kind: [Decimal(0), Decimal(0)] for kind in KINDS}
        for (policy, where, kind), (old, new) in self.amounts.items():
            if policy_id not in (None, policy) or zone not in (None, where):
                continue
            out[kind][0] += old
            out[kind][1] += new
        return out

    def delta(self, *, illustrative_only: bool = False) -> dict[str, Decimal]:
        """The change in cost by kind (candidate − base), over the whole register."""
        out = dict.fromkeys(KINDS, Decimal(0))
        for (policy, _, kind), (old, new) in self.amounts.items():
            if not illustrative_only or self.illustrative.get(policy, False):
                out[kind] += new - old
        return out

    def zones(self) -> list[str]:
        return sorted({zone for _, zone, _ in self.amounts})

    def policy_transitions(self, policy_id: str) -> dict[tuple[str, str], int]:
        return {(b, a): n for (p, b, a), n in sorted(self.transitions.items()) if p == policy_id}

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data; amounts as decimal text in yuan."""
        return {
            **self.rows_json(),
            "better_off": self.better_off,
            "worse_off": self.worse_off,
            "cost_delta": {k: money_text(v) for k, v in self.delta().items()},
            "illustrative_cost_delta": {
                k: money_text(v) for k, v in self.delta(illustrative_only=True).items()
            },
            "policies": [self.policy_json(pid) for pid in self.policy_ids()],
            "zones": {zone: _money(self.totals(zone=zone)) for zone in self.zones()},
        }

    def policy_json(self, policy_id: str) -> dict[str, Any]:
        transitions = [
            {
                "from": before,
                "to": after,
                "enterprises": n,
                "examples": [e.to_json() for e in self.examples.get((policy_id, before, after), [])],
            }
            for (before, after), n in self.policy_transitions(policy_id).items()
        ]
        zones = sorted({zone for p, zone, _ in self.amounts if p == policy_id})
        return {
            "policy_id": policy_id,
            "change": self.kind_of(policy_id),
            "illustrative": self.illustrative.get(policy_id, False),
            "transitions": transitions,
            "amount_changed": self.amount_changed.get(policy_id, 0),
            "amounts": _money(self.totals(policy_id)),
            "zones": {zone: _money(self.totals(policy_id, zone)) for zone in zones},
        }


def _money(pairs: dict[str, list[Decimal]]) -> dict[str, dict[str, str]]:
    """Base, candidate and delta by kind, as decimal text."""
    return {
        kind: {"base": money_text(old), "candidate": money_text(new), "delta": money_text(new - old)}
        for kind, (old, new) in pairs.items()
    }
