"""How the company can move each fact a policy document declares (`change:`): the bundled
library says it for every fact the profile states, and `validate` warns, with file and line,
for a document fact that does not; formulas move as their inputs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import write_policy

from incentives import PolicySet
from incentives.engine.check.lint import lint
from incentives.engine.model.facts import dependencies

DOC = """\
id: test.moves
title: 移动测试
title_en: mobility test
issuer: 测试
provenance: illustrative
zones: [national]
facts:
  - {id: told, type: bool, profile_fact: told, zh: 已说明, en: told, change: fixed}
  - {id: untold, type: bool, profile_fact: untold, zh: 未说明, en: untold}
  - id: mishaps
    type: quantity
    unit: item
    records: {kinds: [safety_accident], severities: [major], within: 上一年及当年}
    zh: 事故
    en: mishaps
  - {id: share, type: quantity, unit: ratio, ratio: [rd_expense, revenue], zh: 比例, en: share}
policies:
  - id: test.moves.p
    title: 政策
    title_en: policy
    when: {all: [{fact: told, eq: true}, {fact: untold, eq: true}, {fact: mishaps, eq: 0},
                 {fact: share, ge: 3%}]}
    benefit: {grant: {amount: 10万元}, zh: 奖, en: award}
"""


def test_validate_warns_for_a_stated_fact_without_change(tmp_path: Path) -> None:
    write_policy(tmp_path, "moves.yaml", DOC)
    _, findings = lint(tmp_path, date(2026, 11, 24))
    warned = {f.message.split()[1]: f for f in findings if f.code == "fact-change"}
    assert set(warned) == {"untold", "mishaps"}  # `told` says it, `share` moves as its inputs
    assert warned["untold"].file == f"{tmp_path.name}/moves.yaml" and warned["untold"].line == 9
    assert warned["untold"].severity == "warning"
    assert (warned["mishaps"].line, "usually `change: fixed`" in warned["mishaps"].message) == (10, True)


def test_every_stated_fact_of_the_library_says_how_it_moves() -> None:
    loaded, findings = lint(None, date(2026, 11, 24))
    assert not [f for f in findings if f.code == "fact-change"]
    stated = [d for _, doc in loaded.documents for d in doc.facts if not dependencies(d)]
    assert len(stated) >= 70 and all(d.change is not None for d in stated)
    facts = PolicySet().plan.facts
    assert {name: facts[name].change for name in (
        "individual_business", "polluting_product", "restricted_industry", "tech_sme_incidents",
        "refund_violations_6m", "hnte_first_recognition",
    )} == dict.fromkeys((
        "individual_business", "polluting_product", "restricted_industry", "tech_sme_incidents",
        "refund_violations_6m", "hnte_first_recognition",
    ), "fixed")  # fmt: skip
    # last year's grants are history by now: slow, as the other facts of past years
    assert {facts[n].change for n in ("hnte_consecutive_recognitions", "revenue_cagr_2y",
                                      "project_construction_months",
                                      "invention_patents_granted_last_year")} == {"slow"}  # fmt: skip
    assert {facts[n].change for n in ("sound_accounting", "class_i_ip_applied",
                                      "high_level_talent")} == {"actionable"}  # fmt: skip
