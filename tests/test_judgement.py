"""An expert's judgement travels through formula facts alike on every back end.

Regression: a policy reading a `points` (or `sum_of`, `max_of`, `ratio`) fact built on a
`judgement: true` fact was `needs_review` on the reference and vectorised back ends and
`undetermined` on the reactive one, whose compiler held that formula facts never need review.
The plan now says which facts may (`FactPlan.may_need_review`) and every back end reads it.
"""

from __future__ import annotations

import sys
from datetime import date

import pytest
from conftest import AS_OF, load_documents

from incentives.engine import PolicySet, Status, parse_profile

DOCUMENT = """\
id: judged
title: 测试
title_en: test
issuer: 测试
provenance: illustrative
zones: [national]
facts:
  - {id: expert_score, type: quantity, unit: point, judgement: true, profile_fact: expert_score,
     zh: 专家评分, en: expert score}
  - {id: bonus, type: quantity, unit: point, profile_fact: bonus, zh: 加分, en: bonus}
  - {id: expert_points, type: quantity, unit: point, zh: 得分, en: points,
     points: {by: expert_score, bands: [{ge: 60, points: 10}]}}
  - {id: best, type: quantity, unit: point, max_of: [expert_points, bonus], zh: 最优, en: best}
  - {id: total, type: quantity, unit: point, sum_of: [expert_points, bonus], zh: 合计, en: total}
  - {id: per_head, type: quantity, unit: point, ratio: [expert_score, employees], zh: 人均,
     en: per head}
policies:
  - {id: judged.points, title: 一, title_en: one, when: {fact: expert_points, ge: 10},
     benefit: {service: true, zh: 服务, en: service}}
  - {id: judged.best, title: 二, title_en: two, when: {fact: best, ge: 10},
     benefit: {service: true, zh: 服务, en: service}}
  - {id: judged.total, title: 三, title_en: three, when: {fact: total, ge: 10},
     benefit: {service: true, zh: 服务, en: service}}
  - {id: judged.ratio, title: 四, title_en: four, when: {fact: per_head, ge: 0.5},
     benefit: {service: true, zh: 服务, en: service}}
"""
# The expert's score is unknown; everything else is known.
PROFILE = {"employees": 10, "facts": {"bonus": 3}}
# Each policy, and the fact its verdict awaits an expert's judgement of.
AWAITS = {"judged.points": "expert_points", "judged.best": "best", "judged.total": "total",
          "judged.ratio": "per_head"}  # fmt: skip
IDS = list(AWAITS)


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    return load_documents(tmp_path_factory.mktemp("judged"), DOCUMENT, name="judged.yaml")


def test_the_plan_says_which_formulas_may_need_review(judged: PolicySet) -> None:
    facts = judged.plan.facts
    assert [facts[f].may_need_review for f in ("expert_points", "best", "total", "per_head")] == [
        True, True, True, True,
    ]  # fmt: skip
    assert not facts["bonus"].may_need_review and not facts["tech_staff_share"].may_need_review
    assert facts["total"].review == "parts" and facts["expert_score"].review == "judgement"


def test_reference_and_vectorised_await_review(judged: PolicySet) -> None:
    from incentives.engine.batch.columns import ROW, profile_to_row, rows_to_frame
    from incentives.engine.batch.vectorised import VectorisedSet

    profile = parse_profile(PROFILE)
    reference = judged.evaluate(profile, AS_OF, gaps=False).results
    assert [(r.status, r.review) for r in reference] == [
        (Status.NEEDS_REVIEW, [AWAITS[pid]]) for pid in IDS
    ]
    frame = rows_to_frame([dict(profile_to_row(profile, judged.facts), **{ROW: 1})], judged.facts)
    rows = VectorisedSet(judged).evaluate(frame, AS_OF).to_dicts()
    assert [(r["status"], r["review"]) for r in rows] == [
        (r.status.value, r.review) for r in reference
    ]


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="durable-rules does not import on 3.13+")
def test_reactive_awaits_review_too(judged: PolicySet) -> None:
    from incentives.engine.reactive import ReactiveSession

    with ReactiveSession(judged, date(2026, 11, 24)) as session:
        session.apply({"enterprise": "E1", "profile": PROFILE})
        assert session.verdicts("E1") == dict.fromkeys(IDS, Status.NEEDS_REVIEW)
        session.apply({"enterprise": "E1", "set": {"facts": {"expert_score": 75}}})
        assert session.verdicts("E1") == dict.fromkeys(IDS, Status.ELIGIBLE)

