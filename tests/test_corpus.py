"""The corpus that lint and property tests are measured against (issue 11).

`tests/corpus/broken/<set>/` holds one realistic mistake of a policy author each,
`tests/corpus/clean/<set>/` a tricky but correct rule set. A set's documents (and worked cases)
are in its `policies/` directory; beside it, `expect.yaml` says what a good checker reports (for a
broken set: the tool, the finding code or invariant, severity, file, line and policy) or why the
set is tricky (for a clean one). The manifests were written from the policy language, not from
the checking code.

Where today's tools fall short of a manifest the test is a strict expected failure whose reason
names the gap, so the change that closes it flips the test and must remove the mark.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from incentives.engine import PolicySet
from incentives.engine.check.cases import coverage_problems, run_cases
from incentives.engine.check.lint import lint
from incentives.engine.compile.loader import CASES_SUFFIX, load
from incentives.engine.errors import PolicyError

CORPUS = Path(__file__).parent / "corpus"
TODAY = date(2026, 11, 24)  # the evaluation date given to `validate --as-of`
PROP_SEED = 1

TOOLS = ("load", "validate", "prop", "test")
SEVERITIES = ("error", "warning")
# Issue 11's classes of mistakes, and `other` for those found beyond its list.
CLASSES = (
    "boundary", "monotone", "tier-falls", "pays-nothing", "never-true", "always-true",
    "unreachable", "cap", "duplicate", "label", "code-value", "unit", "succession", "kind",
    "field", "ratio", "cases", "other",
)  # fmt: skip
BROKEN_KEYS = {"mistake", "class", "caught_by", "code", "severity", "file", "line", "policy"}
OPTIONAL_KEYS = {"beyond_issue_11"}  # why no check planned in issue 11 would catch it
KEBAB = re.compile(r"^[a-z]+(?:-[a-z0-9]+)*$")


def _sets(kind: str) -> list[Path]:
    return sorted(p for p in (CORPUS / kind).iterdir() if p.is_dir())


def _manifest(path: Path) -> dict[str, Any]:
    data = yaml.safe_load((path / "expect.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}/expect.yaml is not a mapping"
    return data


BROKEN = {p.name: p for p in _sets("broken")}
CLEAN = {p.name: p for p in _sets("clean")}
EXPECT = {name: _manifest(path) for name, path in {**BROKEN, **CLEAN}.items()}


def _broken_by(tool: str) -> list[str]:
    return [name for name in BROKEN if EXPECT[name]["caught_by"] == tool]


# --- where today's tools fall short (one entry per set; the fix removes it) -------------------

MISSED_TODAY: dict[str, str] = {}

WRONGLY_FLAGGED_TODAY: dict[str, str] = {
}


def _marks(name: str) -> list[pytest.MarkDecorator]:  # pragma: no cover - empty lists today
    if name in MISSED_TODAY:
        return [pytest.mark.xfail(strict=True, reason=MISSED_TODAY[name])]
    if name in WRONGLY_FLAGGED_TODAY:
        return [pytest.mark.xfail(strict=True, reason=WRONGLY_FLAGGED_TODAY[name])]
    return []


def _params(names: list[str]) -> list[Any]:
    return [pytest.param(name, id=name, marks=_marks(name)) for name in names]


# --- (a) the manifests --------------------------------------------------------------------------


def _documents(path: Path) -> list[Path]:
    files = (path / "policies").rglob("*.yaml")
    return sorted(p for p in files if not p.name.endswith(CASES_SUFFIX))


def _policy_ids(path: Path) -> set[str]:
    ids = set()
    for document in _documents(path):
        data = yaml.safe_load(document.read_text(encoding="utf-8"))
        ids.update(p["id"] for p in data.get("policies", []) if isinstance(p, dict) and "id" in p)
    return ids


def test_the_corpus_is_large_enough_and_covers_every_class() -> None:
    assert len(BROKEN) >= 55
    assert len(CLEAN) >= 18
    assert {EXPECT[name]["class"] for name in BROKEN} == set(CLASSES)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_manifest_is_well_formed(name: str) -> None:
    path, expect = BROKEN[name], EXPECT[name]
    assert BROKEN_KEYS <= expect.keys() <= BROKEN_KEYS | OPTIONAL_KEYS, expect.keys()
    assert expect["class"] in CLASSES
    assert expect["caught_by"] in TOOLS
    assert expect["severity"] in SEVERITIES
    assert KEBAB.match(expect["code"]), expect["code"]
    assert isinstance(expect["mistake"], str) and expect["mistake"].strip()
    target = path / "policies" / expect["file"]
    assert target.is_file(), target
    lines = target.read_text(encoding="utf-8").splitlines()
    assert isinstance(expect["line"], int) and 1 <= expect["line"] <= len(lines)
    assert lines[expect["line"] - 1].strip(), "the named line is blank"
    assert expect["policy"] in _policy_ids(path)
    for file in (path / "policies").rglob("*.yaml"):
        assert file.read_text(encoding="utf-8").startswith("# BROKEN ON PURPOSE"), file


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_manifest_is_well_formed(name: str) -> None:
    expect = EXPECT[name]
    assert set(expect) == {"why_tricky"}
    assert isinstance(expect["why_tricky"], str) and expect["why_tricky"].strip()
    assert _documents(CLEAN[name])
    for file in (CLEAN[name] / "policies").rglob("*.yaml"):
        assert file.read_text(encoding="utf-8").startswith("# CLEAN"), file


def test_the_lists_of_todays_gaps_name_real_sets() -> None:
    assert set(MISSED_TODAY) <= {n for n in BROKEN if EXPECT[n]["caught_by"] != "prop"}
    assert set(WRONGLY_FLAGGED_TODAY) <= set(CLEAN)


# --- (b) clean sets: no finding -----------------------------------------------------------------


@pytest.mark.parametrize("name", _params(sorted(CLEAN)))
def test_clean_set_has_no_finding(name: str) -> None:
    _, findings = lint(CLEAN[name] / "policies", TODAY)
    assert [str(f) for f in findings] == []


@pytest.mark.parametrize(
    "name", [n for n in sorted(CLEAN) if list((CLEAN[n] / "policies").rglob(f"*{CASES_SUFFIX}"))]
)
def test_clean_set_worked_cases_pass(name: str) -> None:
    directory = CLEAN[name] / "policies"
    policy_set = PolicySet(directory)
    results = run_cases(policy_set, directory)
    assert [(r.where, r.failures) for r in results if not r.passed] == []
    assert coverage_problems(policy_set, results) == []


# --- (c) broken sets: caught by the named tool, with the named code at the named line -----------


@pytest.mark.parametrize("name", _params(_broken_by("load")))
def test_broken_set_is_refused_at_load(name: str) -> None:
    # The loader's problems carry no code: the file and line are checked.
    expect = EXPECT[name]
    with pytest.raises(PolicyError) as refused:
        load(BROKEN[name] / "policies")
    where = [(p.file, p.line) for p in refused.value.problems]
    assert (f"policies/{expect['file']}", expect["line"]) in where, refused.value.render()


@pytest.mark.parametrize("name", _params(_broken_by("validate")))
def test_broken_set_is_flagged_by_validate(name: str) -> None:
    expect = EXPECT[name]
    _, findings = lint(BROKEN[name] / "policies", TODAY)
    hits = [
        f
        for f in findings
        if f.code == expect["code"]
        and f.file == f"policies/{expect['file']}"
        and f.line == expect["line"]
    ]
    assert hits, [str(f) for f in findings]
    assert hits[0].severity == expect["severity"]


@pytest.mark.parametrize("name", _params(_broken_by("test")))
def test_broken_set_fails_its_worked_cases(name: str) -> None:
    # Today's `incentives test` reports a failing case by file and line, without a code.
    expect = EXPECT[name]
    directory = BROKEN[name] / "policies"
    results = run_cases(PolicySet(directory), directory)
    failed = [(r.file, r.line) for r in results if not r.passed]
    assert (f"policies/{expect['file']}", expect["line"]) in failed, failed


@pytest.mark.parametrize("name", _params(_broken_by("prop")))
def test_broken_set_breaks_an_invariant(name: str) -> None:
    # The boundary enumeration finds these on its own (no random example is needed), so the
    # test costs about a second: `incentives prop` at its defaults adds the random search.
    from incentives.engine.testing import find_counterexamples

    expect = EXPECT[name]
    policy_set = PolicySet(BROKEN[name] / "policies")
    found = find_counterexamples(policy_set, expect["policy"], 0, PROP_SEED)
    assert expect["code"] in {c.invariant for c in found}, [c.message for c in found]
