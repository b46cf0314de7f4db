"""`incentives watch` keeps running whatever arrives: any enterprise id, any malformed line, any
bad byte; each bad line is reported on stderr with its number, escaped, and skipped."""

from __future__ import annotations

import codecs
import json
import sys
from pathlib import Path

import pytest
from register_support import AS_OF, POLICY_ID, invoke, small_policies, terminal_safe

from incentives.engine.reactive import unavailable_reason

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None and sys.version_info >= (3, 13),
    reason="durable-rules does not import on Python >= 3.13",
)

HOSTILE_IDS = [
    'E"1', "E\\1", "E\\", '"', "E\x00", "E\x1b[31mred", "E\u202eevil", "E\n2", "企业一号", "😀",
    "E" * 100_000, " ", "e1", "e:E1", "{}", "null", "E\t\r", "\ufeffE", "E\u2028", "E\x7f\x9b",
]  # fmt: skip


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_policies(tmp_path_factory.mktemp("policies"))


def watch(policies: Path, data: bytes, *extra: str) -> tuple[list[dict[str, str]], list[str]]:
    run = invoke(["watch", "--as-of", AS_OF, "--policies", str(policies), *extra], data)
    assert run.code == 0, run.stderr
    # one event per line, whatever the ids hold (Python's splitlines breaks at more than \n)
    events = [json.loads(line) for line in run.stdout.decode("utf-8").splitlines()]
    assert terminal_safe(run.stderr), repr(run.stderr)  # escaped: ids and values may hold anything
    return events, run.stderr.splitlines()


def lines(*updates: object) -> bytes:
    return b"".join(
        (u if isinstance(u, bytes) else json.dumps(u, ensure_ascii=False).encode("utf-8")) + b"\n"
        for u in updates
    )


def test_any_enterprise_id_is_followed_and_reported_as_it_was_given(policies: Path) -> None:
    updates = []
    for eid in HOSTILE_IDS:
        updates += [{"enterprise": eid, "profile": {"employees": 50}},
                    {"enterprise": eid, "set": {"employees": 5}}, {"enterprise": eid, "remove": True}]  # fmt: skip
    events, errors = watch(policies, lines(*updates))
    assert errors == []
    for eid in HOSTILE_IDS:
        mine = [(e["before"], e["after"]) for e in events if e["enterprise"] == eid]
        assert mine == [("undetermined", "eligible"), ("eligible", "ineligible"),
                        ("ineligible", "undetermined")], repr(eid[:20])  # fmt: skip
    assert {e["policy_id"] for e in events} == {POLICY_ID}


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"enterprise": "E1", "set": {"employees": 5, "employees": 50}}', "written twice"),
        (b'{"enterprise": "E1", "set": {"employees": NaN}}', "NaN"),
        (b'{"enterprise": "E1", "set": ' + b"[" * 50 + b"]" * 50 + b"}", "nested deeper"),
        (b'{"enterprise": "\\ud800", "set": {}}', "surrogate"),
        (b'{"enterprise": "E1", "set": {"name": "\xff"}}', "not valid utf-8 text"),
        (b'["E1"]', "invalid update"),
        (b'"E1"', "invalid update"),
        (b"null", "invalid update"),
        (b'{"enterprise": "", "set": {}}', "enterprise"),
        (b'{"enterprise": 7, "set": {}}', "enterprise"),
        (b'{"enterprise": "E1"}', "exactly one of"),
        (b'{"enterprise": "E1", "set": {}, "remove": true}', "exactly one of"),
        (b'{"enterprise": "E1", "set": {"employees": -1}}', "employees"),
        (b'{"enterprise": "E1", "set": {"zone": "atlantis"}}', "unknown zone"),
        (b'{"enterprise": "E1", "set": {"financials": {"20x5": {"revenue": 1}}}}', "financials"),
        (b'{"enterprise": "E1", "retract": "employees"}', "retract"),
        (b'{"enterprise": "E\\u001b[31m", "set": {"employees": "many"}}', "\\x1b[31m"),
        (b'{"enterprise": "E1", "set": {"name": "' + b"x" * (1 << 20) + b'"}}', "line longer than"),
    ],
)
def test_a_malformed_line_is_reported_with_its_number_and_the_session_goes_on(
    policies: Path, line: bytes, fragment: str
) -> None:
    data = lines({"enterprise": "E1", "profile": {"employees": 5}}, line,
                 {"enterprise": "E1", "set": {"employees": 50}})  # fmt: skip
    events, errors = watch(policies, data)
    assert len(errors) == 1 and errors[0].startswith("line 2: skipped: "), errors
    assert fragment in errors[0] and len(errors[0]) < 2_100
    assert [e["after"] for e in events] == ["ineligible", "eligible"]


def test_encodings_and_byte_order_marks(policies: Path) -> None:
    update = {"enterprise": "企业", "profile": {"employees": 50, "name": "太原"}}
    text = json.dumps(update, ensure_ascii=False) + "\n"
    for data, extra in [
        (codecs.BOM_UTF8 + text.encode("utf-8"), ()),
        (codecs.BOM_UTF16_LE + text.encode("utf-16-le"), ()),
        (text.encode("gb18030"), ("--encoding", "gb18030")),
    ]:
        events, errors = watch(policies, data, *extra)
        assert errors == [] and [e["enterprise"] for e in events] == ["企业"]
    events, errors = watch(policies, text.encode("gb18030"))
    assert events == [] and "pass --encoding gb18030" in errors[0]
    run = invoke(["watch", "--policies", str(policies), "--encoding", "klingon"], b"")
    assert run.code == 2 and "unknown encoding" in run.stderr  # a malformed option


def test_a_ratio_without_a_unit_in_an_update_is_refused_with_the_fix(policies: Path) -> None:
    data = lines({"enterprise": "E1", "set": {"facts": {"market_share": 30}}})
    _, errors = watch(policies, data)
    assert len(errors) == 1 and "'30%'" in errors[0]

