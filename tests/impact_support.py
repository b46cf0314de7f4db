"""What the impact tests share: a candidate built from the bundled library by known changes,
and a register of profiles around the changed thresholds."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

from incentives.engine import load_profile
from incentives.engine.compile.loader import bundled_policies

EXAMPLES = Path(__file__).parent.parent / "examples"
RAISED = "national.small-low-profit.cit"  # taxable income up to 300万元 → 400万元
TIERED = "shanxi.taiyuan.hnte-award"  # a fourth tier: 40万元 from four recognitions
DROPPED = "shanxi.industry-chain-incentives"  # document's zones: shanxi → all but linfen
CHAIN_ZONES = "[taiyuan, zgq, jinzhong, datong, changzhi, jincheng, shuozhou]"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def build_candidate(root: Path) -> Path:
    """The bundled library with the three known changes, in `root`."""
    target = root / "candidate"
    shutil.copytree(bundled_policies(), target, ignore=shutil.ignore_patterns("__init__.py"))
    _edit(target / "national/small-low-profit.yaml",
          "{fact: taxable_income, le: 300万元, label: 年度应纳税所得额不超过300万元",
          "{fact: taxable_income, le: 400万元, label: 年度应纳税所得额不超过300万元")  # fmt: skip
    _edit(target / "shanxi/taiyuan/hnte-award.yaml", "          - {ge: 3, amount: 30万元}",
          "          - {ge: 4, amount: 40万元}\n          - {ge: 3, lt: 4, amount: 30万元}")  # fmt: skip
    _edit(target / "shanxi/province/industry-chain-incentives.yaml", "zones: [shanxi]",
          f"zones: {CHAIN_ZONES}")  # fmt: skip
    return target


def register_rows() -> list[dict[str, Any]]:
    """Profiles around the changed thresholds: the examples, moved across zones, taxable
    incomes either side of 300万 and 400万 (and unknown), one to five HNTE recognitions."""
    seeds = [
        load_profile(EXAMPLES / n).model_dump(mode="json", exclude_none=True)
        for n in ("taiyuan-software-smallfirm.json", "jinzhong-hightech.yaml", "gaoping-led.yaml")
    ]
    rows: list[dict[str, Any]] = []
    incomes = ["250万元", "300万元", "350万元", "400万元", "450万元", None]
    zones = ["taiyuan", "linfen-etdz", "jinzhong-dz", "gaoping"]
    for i, (income, zone) in enumerate((x, z) for x in incomes for z in zones):
        data = copy.deepcopy(seeds[i % len(seeds)])
        data["zone"] = zone
        last = data.setdefault("financials", {}).setdefault("2025", {})
        if income is None:
            last.pop("taxable_income", None)
        else:
            last["taxable_income"] = income
        rows.append(data)
    for count in range(1, 6):
        data = copy.deepcopy(seeds[0])
        data["zone"] = "taiyuan"
        data.setdefault("facts", {})["private_enterprise"] = True
        # `count` consecutive recognitions, three years apart, the latest on 2026-03-01
        data["certifications"] = [{"kind": "hnte", "issued": f"{2026 - 3 * back}-03-01"}
                                  for back in range(count)]  # fmt: skip
        rows.append(data)
    return rows
