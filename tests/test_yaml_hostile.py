"""YAML that plain `safe_load` reads silently wrong or without bound is refused, with its line,
by both parsers alike: duplicate keys, alias bombs and recursive aliases, merge keys, deep
nesting, control characters, tabs, several documents, huge and non-decimal integers."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from conftest import write_policy

from incentives.engine import PolicyError, PolicySet
from incentives.engine.model import yamlio
from incentives.engine.model.yamlio import MAX_DEPTH, YamlError, dump_yaml, line_of, load_yaml

LOADERS = [yamlio._ExactLoader, *([yamlio._FastLoader] if yamlio._FastLoader else [])]


def _bomb(levels: int) -> str:
    names = "abcdefghijklmnop"[: levels + 1]
    text = f"a: &a [{', '.join(['lol'] * 9)}]\n"
    for parent, child in itertools.pairwise(names):
        text += f"{child}: &{child} [{', '.join(['*' + parent] * 9)}]\n"
    return text


REFUSED = [
    # (text, fragment of the message, line)
    ("employees: 50\nname: x\nemployees: 500\n", "written twice in one mapping (lines 1 and 3)", 3),
    ("financials:\n  2025: {revenue: 1}\n  '2025': {revenue: 2}\n", "'2025' is written twice", 3),
    ("a: {b: 1, c: 2, b: 3}\n", "'b' is written twice", 1),
    (_bomb(9), "expand the file to more than", 1),
    ("a: &a [1, *a]\n", "recursive alias", 1),
    ("a: &a {b: *a}\n", "recursive alias", 1),
    ("base: &base {x: 1}\nother:\n  <<: *base\n  x: 2\n", "merge keys", 3),
    ("a:" + " [" * (MAX_DEPTH + 1) + " ]" * (MAX_DEPTH + 1) + "\n", f"deeper than {MAX_DEPTH}", 1),
    ("a: b\x00c\n", "control character U+0000 at line 1", 1),
    ("a: 1\nname: \x1b]0;pwned\x07\n", "control character U+001B at line 2", 2),
    ("a:\n\tb: 1\n", "indent with spaces, not tabs", 2),
    ("a: 1\n---\nb: 2\n", "one YAML document", 2),
    ("employees: 0120\n", "octal, hexadecimal, binary or base-60", 1),
    ("employees: 1:20\n", "base-60", 1),
    ("employees: 0x50\n", "octal, hexadecimal", 1),
    ("employees: " + "9" * 100 + "\n", "100 digits is too large", 1),
    ("revenue: " + "9" * 100 + ".5\n", "too large", 1),
    ("revenue: .inf\n", "not a usable number", 1),
]


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("text", "fragment", "line"), REFUSED)
def test_refused_with_the_line_by_both_parsers(
    loader: yamlio.LoaderClass, text: str, fragment: str, line: int
) -> None:
    started = time.process_time()  # CPU time: what other processes do adds nothing
    with pytest.raises(YamlError) as info:
        load_yaml(text)
    assert fragment in str(info.value)
    assert info.value.line == line
    # the parser on its own refuses too (the fast one may word it less well)
    with pytest.raises((YamlError, ValueError)):
        yamlio._load(loader, text)
    assert time.process_time() - started < 5


def test_very_deep_nesting_is_refused_quickly() -> None:
    for text in ("[" * 100_000 + "]" * 100_000, "- " * 5_000 + "x", "{a: " * 20_000 + "1" + "}" * 20_000):
        started = time.process_time()  # CPU time: what other processes do adds nothing
        with pytest.raises(YamlError, match=r"deeper than|nesting"):
            load_yaml(text)
        assert time.process_time() - started < 5


def test_aliases_within_the_budget_mean_their_anchor() -> None:
    data, lines = load_yaml("defaults: &d {zone: taiyuan, employees: 5}\na: *d\nb: [*d, *d]\n")
    assert data["a"] == data["b"][0] == {"zone": "taiyuan", "employees": 5}
    assert line_of(lines, ("a", "zone")) == 1  # where the value is written
    assert line_of(lines, ("b",)) == 3 and line_of(lines, ("b", 1)) == 1
    assert load_yaml("a: &x 1\nb: 2\n")[0] == {"a": 1, "b": 2}  # an anchor no alias uses


@pytest.mark.parametrize(
    ("text", "value"),
    [("n: 1_000\n", 1000), ("n: -5\n", -5), ("n: +5\n", 5), ("n: 0\n", 0), ("n: '0120'\n", "0120")],
)
def test_plain_decimal_integers_still_read(text: str, value: object) -> None:
    assert load_yaml(text)[0] == {"n": value}


def test_a_fiscal_year_key_has_its_line_either_way() -> None:
    _, lines = load_yaml("financials:\n  2025:\n    revenue: 1\n")
    assert line_of(lines, ("financials", 2025, "revenue")) == 3
    assert line_of(lines, ("financials", "2025", "revenue")) == 3


def test_dump_yaml_reads_back_without_aliases() -> None:
    shared = {"fact": "employees", "ge": 10}
    data = {"a": shared, "b": [shared, shared]}
    text = dump_yaml(data)
    assert "&" not in text and "*" not in text
    assert load_yaml(text)[0] == data


def test_a_policy_file_with_a_duplicate_key_refuses_the_set(tmp_path: Path) -> None:
    write_policy(tmp_path, "dup.yaml", """\
        id: dup
        title: 重复
        title_en: duplicate
        issuer: 测试
        provenance: illustrative
        zones: [taiyuan]
        policies:
          - id: dup.award
            title: 奖励
            title_en: award
            when: {fact: employees, ge: 10}
            when: {fact: employees, ge: 1000}
            benefit: {grant: {amount: 10万元}, zh: 奖励, en: award}
        """)  # fmt: skip
    with pytest.raises(PolicyError) as info:
        PolicySet(tmp_path)
    assert "dup.yaml:12" in str(info.value) and "lines 11 and 12" in str(info.value)


def test_a_bom_at_the_start_of_a_yaml_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert yamlio.read_yaml_file(path)[0] == {"name": "x"}


def test_a_policy_file_that_is_not_utf8_names_the_line_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "gbk.yaml").write_bytes("id: gbk\ntitle: 测试\n".encode("gbk"))
    with pytest.raises(PolicyError) as info:
        PolicySet(tmp_path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == (f"{tmp_path.name}/gbk.yaml", 2)
    assert "GBK/GB18030" in problem.message and "save it as UTF-8" in problem.message
    assert "--encoding" not in problem.message  # policy files have no such option


def test_a_case_file_with_bad_bytes_is_a_problem_of_that_file(tmp_path: Path) -> None:
    from incentives.engine.check.cases import run_cases
    from incentives.engine.errors import InputError

    (tmp_path / "x.cases.yaml").write_bytes(b"cases:\n  - name: \xff\xfe\n")
    with pytest.raises(InputError) as info:
        run_cases(PolicySet(), tmp_path)
    (problem,) = info.value.problems
    assert problem.line == 2 and "not valid utf-8" in problem.message
