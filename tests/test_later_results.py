"""Results whose costly parts (gaps, explanation trees, opportunities, warnings) are computed
when read (`results.assemble_later`): every way of reading a report sees the same values, and
a caller that reads only verdicts does not pay for the rest."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

from conftest import AS_OF
from pydantic import BaseModel, TypeAdapter

from incentives.engine import PolicySet, Report, Status, load_profile
from incentives.engine.reference.results import PolicyResult

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))


def _reports(policies: PolicySet) -> list[Report]:
    """Fresh reports of the examples, with everything computed later: trees, gaps,
    opportunities, warnings."""
    return [policies.evaluate(load_profile(path), AS_OF, explain=True) for path in EXAMPLES]


def test_every_way_of_reading_sees_the_same_report(policies: PolicySet) -> None:
    # Each reading starts from a fresh, unread report: JSON, a dump, equality, copies, pickle,
    # a list of reports serialised as a whole, and the attributes themselves.
    reference = [r.model_dump_json() for r in _reports(policies)]
    assert any('"opportunities":[{' in r for r in reference)  # something was computed later
    assert any('"trace":{' in r for r in reference)
    readers = {
        "dump": lambda r: Report.model_validate(r.model_dump()).model_dump_json(),
        "copy": lambda r: copy.copy(r).model_dump_json(),
        "deepcopy": lambda r: copy.deepcopy(r).model_dump_json(),
        "pickle": lambda r: pickle.loads(pickle.dumps(r)).model_dump_json(),
        "list": lambda r: TypeAdapter(list[Report]).dump_json([r]).decode()[1:-1],
        "repr": lambda r: (repr(r), r.model_dump_json())[1],
    }
    for name, read in readers.items():
        assert [read(r) for r in _reports(policies)] == reference, name
    for fresh, again in zip(_reports(policies), _reports(policies), strict=True):
        assert fresh == again
    for fresh, json in zip(_reports(policies), reference, strict=True):
        fresh.opportunities, fresh.warnings  # noqa: B018 - read the attributes first
        for result in fresh.results:
            result.trace, result.gaps  # noqa: B018
        assert fresh.model_dump_json() == json


def test_reading_verdicts_computes_nothing_else(policies: PolicySet) -> None:
    profile = load_profile(EXAMPLES[0])
    report = policies.evaluate(profile, AS_OF, explain=True)
    assert [r.status for r in report.results] and report.total is not None
    assert type(report) is not Report  # opportunities and warnings not computed yet
    assert any(type(r) is not PolicyResult for r in report.results)
    report.opportunities  # noqa: B018
    assert type(report) is Report and report.__class__ is Report
    for result in report.results:
        assert isinstance(result, PolicyResult) and result.__class__ is PolicyResult
        assert type(result) is PolicyResult
        assert (result.trace is None) == (result.status is Status.NOT_IN_FORCE)


def test_results_hold_their_fields_in_the_models_order(policies: PolicySet) -> None:
    # Results are built without validation from dicts in the model's order by construction
    # (`results.assemble_filled`): serialisation follows that order, so it must be the model's.
    def check(model: BaseModel) -> None:
        assert tuple(model.__dict__) == tuple(type(model).model_fields), type(model).__name__
        for value in model.__dict__.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, BaseModel):
                    check(item)

    for report in _reports(policies):
        check(report)
