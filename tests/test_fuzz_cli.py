"""Fuzzing through the real CLI: policy directories (mutated from the bundled library and from
small generated documents), profiles in YAML and JSON (mutated from the examples), and option
values, each run through `check`, `explain`, `validate`, `test`, `list` and `show` with click's
runner. Whatever the input:

- the exit status is 0, 1 (bad input) or 2 (bad usage), never a traceback;
- a refusal is never accompanied by a verdict (nothing on standard output);
- each input is answered in bounded time;
- and where the right answer is known without the engine, it is that answer: the same profile
  in YAML and in JSON, with a byte-order mark or in GBK read with `--encoding`, gets the same
  report; a key written twice or a control character in a policy document is refused.

Examples per test: `EXAMPLES` below under the CI profile (sized for CI), scaled by the
hypothesis profile (conftest); run e.g. `INCENTIVES_HYPOTHESIS_SCALE=200 pytest
tests/test_fuzz_cli.py --hypothesis-show-statistics` to search longer.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.cli.main import main
from incentives.engine import PolicySet
from incentives.engine.model.yamlio import load_yaml
from incentives.engine.testing import policy_documents

EXAMPLES = 12
FUZZ = settings(max_examples=examples(EXAMPLES))
FUZZ_HEAVY = settings(max_examples=examples(EXAMPLES // 3))  # four runs per example
SECONDS_PER_INPUT = 20  # generous: the machine is shared; a hang or a blow-up takes far longer

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "policies"
EXAMPLE_PROFILES = sorted((ROOT / "examples").glob("*.*"))
JINZHONG = ROOT / "examples" / "jinzhong-hightech.yaml"
DOCUMENTS = sorted(p for p in LIBRARY.rglob("*.yaml") if not p.name.endswith(".cases.yaml"))
AS_OF = ["--as-of", "2026-11-24"]
BUNDLED = PolicySet()

# --- what every answer must be -----------------------------------------------------------------


def invoke(*args: str) -> Result:
    started = time.perf_counter()
    result = CliRunner().invoke(main, list(args))
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_INPUT, f"{args}: {elapsed:.1f} s"
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, repr(result.exception), result.output,
    )  # fmt: skip
    assert "Traceback" not in result.output, (args, result.output)
    if result.exit_code != 0:
        # `validate` and `test` report their findings and failures on stdout
        assert result.output.strip(), (args, "a refusal must say why")
        if args[0] in ("check", "explain", "list", "show"):
            assert result.stdout == "", (args, "a refusal with a verdict", result.output)
            assert result.stderr.strip(), (args, "a refusal must say why")
    return result


# --- hostile values and mutations --------------------------------------------------------------

HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, -0.5, 10**30, 10**60, "", " ", "x" * 2000, "2026-02-30", "2019/5/10",
    "10/5/2019", "20190510", "1,2000万元", "12,00", "20万美元", "-5%", "30", "1e999999999",
    "NaN", ".nan", "Infinity", "0x1F", "0120", "1:30", "∞", "١٢٣", "１２３", [], {}, [1, [2, [3]]],
    {"a": {"b": None}}, ["x", 1], date(1, 1, 1), date(9999, 12, 31), "\x1b]0;pwned\x07",
    "a|b\n| x |", "<script>", "`", "*a", "&a", "{", "漢字", "hnet", "safety_acident",
    {"fact": "employees", "ge": "10人"}, {"all": []}, {"any": [{"not": {}}]},
]  # fmt: skip

TEXT_INSERTS: list[bytes] = [
    b"\x00", b"\xff\xfe", b"\xc3\x28", b"\x1b]0;x\x07", b"\t", "\ufeff".encode(), b"&a ",
    b"*a", b"*nothing", b"<<: ", b"---\n", b"...\n", b"\n- ", b": ", b"{", b"[", b"]", b"'",
    b'"', b"\\", b"9" * 60, b"1e999999999", b".nan", b"0x1F", b"2026-02-30", b"? ", b"!!python/object:os.system ",
    b"!!binary ", "1,2000万元".encode(), b"\r", b"\r\n", b"\x85", "\u2028".encode(), b"#",
    b"[" * 3000, b"{a: " * 2000, b"- " * 1000,
]  # fmt: skip


def _to_plain(value: Any) -> Any:
    """Data as YAML and JSON writers take it (Decimal as its text, dates as ISO text)."""
    if isinstance(value, dict):
        return {str(k) if isinstance(k, int) else k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _paths(data: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        found.append(path)
        if isinstance(node, dict):
            stack.extend((value, (*path, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (*path, index)) for index, value in enumerate(node))
    return found


def _nested(depth: int) -> Any:
    node: Any = {"fact": "employees", "ge": 1}
    for _ in range(depth):
        node = {"all": [node]}
    return node


UNITS = ["万元", "%", "人", "元/吨", "年", "个月", "分", "亿元", "", "美元"]


@st.composite
def mutated_data(draw: st.DrawFn, data: Any) -> Any:
    """`data` with one to three changes at random places: a key dropped, a value retyped or
    replaced by a hostile one, a unit swapped, a deep `all` nest, a list emptied or repeated."""
    data = json.loads(json.dumps(_to_plain(data)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        _mutate(draw, parent, path[-1])
    return data


def _mutate(draw: st.DrawFn, parent: Any, last: Any) -> None:
    action = draw(st.sampled_from(["drop", "hostile", "unit", "nest", "repeat", "rename"]))
    value = parent[last]
    if action == "drop":
        del parent[last]
    elif action == "hostile":
        parent[last] = draw(st.sampled_from(HOSTILE_VALUES))
    elif action == "unit" and isinstance(value, str):
        number = "".join(c for c in value if c.isdigit() or c in ".-")
        parent[last] = number + draw(st.sampled_from(UNITS))
    elif action == "nest":
        # deeper than the YAML and JSON limits, but within what their writers here can write
        # (deeper text comes from TEXT_INSERTS)
        parent[last] = _nested(draw(st.sampled_from([1, 5, 20, 40, 80])))
    elif action == "repeat" and isinstance(value, list):
        parent[last] = value * draw(st.integers(0, 3))
    elif action == "rename" and isinstance(parent, dict):
        parent[last + draw(st.sampled_from(["_", "s", "x"]))] = parent.pop(last)


@st.composite
def mutated_bytes(draw: st.DrawFn, text: bytes) -> bytes:
    """`text` with one to three byte-level changes: an insertion from TEXT_INSERTS, a line
    deleted, duplicated or swapped, or the file cut short."""
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split(b"\n")
        action = draw(st.sampled_from(["insert", "delete", "duplicate", "swap", "truncate"]))
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        if action == "insert":
            line = lines[at]
            cut = draw(st.integers(0, len(line)))
            lines[at] = line[:cut] + draw(st.sampled_from(TEXT_INSERTS)) + line[cut:]
        elif action == "delete" and len(lines) > 1:
            del lines[at]
        elif action == "duplicate":  # in a mapping, the same key written twice
            lines.insert(at, lines[at])
        elif action == "swap":
            other = draw(st.integers(0, max(len(lines) - 1, 0)))
            lines[at], lines[other] = lines[other], lines[at]
        elif action == "truncate":
            return b"\n".join(lines)[: draw(st.integers(0, len(text)))]
        text = b"\n".join(lines)
    return text


def _yaml_text(data: Any) -> bytes:
    return yaml.safe_dump(_to_plain(data), allow_unicode=True, sort_keys=False).encode()


def _json_text(data: Any) -> bytes:
    return json.dumps(_to_plain(data), ensure_ascii=False, indent=1).encode()


# --- policy directories -----------------------------------------------------------------------

SEED_DOCUMENTS = st.one_of(
    st.sampled_from(DOCUMENTS).map(lambda p: (p.read_bytes(), p)),
    policy_documents(BUNDLED.plan.facts, BUNDLED.zones).map(lambda d: (_yaml_text(d), None)),
)


@st.composite
def policy_directories(draw: st.DrawFn) -> tuple[bytes, Path | None, str]:
    text, source = draw(SEED_DOCUMENTS)
    how = draw(st.sampled_from(["bytes", "data", "both"]))
    if how in ("data", "both"):
        data, _ = load_yaml(text.decode("utf-8"))
        text = _yaml_text(draw(mutated_data(data)))
    if how in ("bytes", "both"):
        text = draw(mutated_bytes(text))
    ids = [line.split(b"id:", 1)[1].strip().decode("utf-8", "replace")
           for line in text.splitlines() if line.strip().startswith((b"- id:", b"id:"))]  # fmt: skip
    return text, source, draw(st.sampled_from([*ids, "no.such.policy"]))


@FUZZ
@given(
    directory=policy_directories(),
    command=st.sampled_from(["validate", "list", "show", "check", "test"]),
    data=st.data(),
)
def test_mutated_policy_directories(
    directory: tuple[bytes, Path | None, str], command: str, data: st.DataObject
) -> None:
    text, source, policy_id = directory
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "policies"
        root.mkdir()
        (root / "doc.yaml").write_bytes(text)
        cases = None if source is None else source.with_name(source.stem + ".cases.yaml")
        written = b""
        if command == "test" and cases is not None and cases.exists():
            # the document as it is and its cases mutated, or the other way round
            if data.draw(st.booleans(), label="mutate the cases"):
                text = source.read_bytes()  # type: ignore[union-attr]
                (root / "doc.yaml").write_bytes(text)
                written = data.draw(mutated_bytes(cases.read_bytes()), label="cases")
            else:
                written = cases.read_bytes()
            (root / "doc.cases.yaml").write_bytes(written)
        args = {
            "validate": ["validate", str(root), *AS_OF],
            "list": ["list", "--policies", str(root), "--format", "json"],
            "show": ["show", policy_id, "--policies", str(root)],
            "check": ["check", str(JINZHONG), "--policies", str(root), *AS_OF, "--format", "json"],
            "test": ["test", str(root)],
        }[command]
        result = invoke(*args)
        if b"\x00" in text or b"\x1b" in text:  # never part of a policy document
            assert result.exit_code == 1, result.output
        if command == "test" and b"\x00" in written:
            assert result.exit_code == 1, result.output


# --- profiles -----------------------------------------------------------------------------------


def _profile_data(path: Path) -> Any:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    return load_yaml(path.read_text(encoding="utf-8"))[0]


SEED_PROFILES = [_profile_data(p) for p in EXAMPLE_PROFILES]


@st.composite
def profile_files(draw: st.DrawFn) -> tuple[str, bytes, list[str]]:
    data = draw(st.sampled_from(SEED_PROFILES))
    if draw(st.booleans()):
        data = draw(mutated_data(data))
    suffix = draw(st.sampled_from([".yaml", ".json", ".yml", ".txt"]))
    text = _json_text(data) if suffix == ".json" else _yaml_text(data)
    if draw(st.booleans()):
        text = draw(mutated_bytes(text))
    options: list[str] = []
    encoding = draw(st.sampled_from([None, "bom", "gb18030", "utf-16"]))
    if encoding == "bom":
        text = b"\xef\xbb\xbf" + text
    elif encoding is not None:
        with contextlib.suppress(UnicodeError):  # mutated bytes may not be UTF-8 any more
            text = text.decode("utf-8").encode(encoding)
        if draw(st.booleans()):
            options = ["--encoding", encoding]
    return suffix, text, options


@FUZZ
@given(
    profile=profile_files(),
    command=st.sampled_from(["check", "explain"]),
    fmt=st.sampled_from(["table", "json", "markdown"]),
    explain=st.booleans(),
)
def test_mutated_profiles(
    profile: tuple[str, bytes, list[str]], command: str, fmt: str, explain: bool
) -> None:
    suffix, text, options = profile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"profile{suffix}"
        path.write_bytes(text)
        args = [command, str(path)]
        if command == "explain":
            args.append("national.hnte.certification")
        elif explain:
            args.append("--explain")
        result = invoke(*args, *AS_OF, "--format", fmt, *options)
        if result.exit_code == 0 and fmt != "json":
            for char in ("\x1b", "\x07", "\x00"):
                assert char not in result.stdout


def _report(path: Path, *options: str) -> tuple[int, str]:
    result = invoke("check", str(path), *AS_OF, "--format", "json", *options)
    return result.exit_code, result.stdout


@FUZZ_HEAVY
@given(data=st.sampled_from(SEED_PROFILES).flatmap(lambda d: st.one_of(st.just(d), mutated_data(d))))
def test_the_same_profile_gets_the_same_answer_in_every_form(data: Any) -> None:
    """YAML, JSON, with a byte-order mark, in GB18030 with --encoding: one answer."""
    with tempfile.TemporaryDirectory() as tmp:
        forms: dict[str, tuple[bytes, list[str]]] = {
            "p.yaml": (_yaml_text(data), []),
            "p.json": (_json_text(data), []),
            "bom.json": (b"\xef\xbb\xbf" + _json_text(data), []),
            "gbk.yaml": (_yaml_text(data).decode().encode("gb18030"), ["--encoding", "gb18030"]),
        }
        answers = {}
        for name, (text, options) in forms.items():
            path = Path(tmp) / name
            path.write_bytes(text)
            answers[name] = _report(path, *options)
        codes = {code for code, _ in answers.values()}
        assert len(codes) == 1, answers
        if codes == {0}:
            reports = [_without_places(json.loads(out)) for _, out in answers.values()]
            assert all(r == reports[0] for r in reports), answers


def _without_places(report: dict[str, Any]) -> dict[str, Any]:
    """The report with each warning's file and line left out (the files differ in name and
    layout; the field and the message must not). JSON gives a warning as an object."""
    places = ("file", "line")
    warnings = [{k: v for k, v in w.items() if k not in places} for w in report["warnings"]]
    return {**report, "warnings": warnings}


@FUZZ
@given(
    data=st.sampled_from(SEED_PROFILES),
    key=st.sampled_from(["employees", "zone", "name", "registration_date"]),
    fmt=st.sampled_from(["yaml", "json"]),
)
def test_a_key_written_twice_is_always_refused(data: Any, key: str, fmt: str) -> None:
    """The last value must never win silently, whichever key and format."""
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "json":
            text = _json_text(data)[:-1].rstrip() + f',\n "{key}": 1\n}}'.encode()
        else:
            text = _yaml_text(data) + f"{key}: 1\n".encode()
        path = Path(tmp) / f"p.{fmt}"
        path.write_bytes(text)
        result = invoke("check", str(path), *AS_OF)
        assert result.exit_code == 1 and "twice" in result.stderr, result.output


# --- options ------------------------------------------------------------------------------------

OPTION_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["2026-11-24", "2026-02-30", "20261124", "2026-W48-2", "24/11/2026",
                     "taiyuan", "national", "../../etc", "-", "--help", "gb18030", "utf-16",
                     "national.hnte.certification", "\x1b[2J", "0", "9" * 40]),
)  # fmt: skip


@FUZZ
@given(
    command=st.sampled_from(["check", "explain", "list", "show", "validate"]),
    option=st.sampled_from(["--as-of", "--zone", "--format", "--lang", "--encoding", "--policies"]),
    value=OPTION_TEXT,
    policy_id=OPTION_TEXT,
)
def test_option_values(command: str, option: str, value: str, policy_id: str) -> None:
    base: dict[str, list[str]] = {
        "check": ["check", str(JINZHONG)],
        "explain": ["explain", str(JINZHONG), policy_id],
        "list": ["list"],
        "show": ["show", policy_id],
        "validate": ["validate"],
    }
    invoke(*base[command], option, value)
