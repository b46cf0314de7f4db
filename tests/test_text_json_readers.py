"""The shared readers under every input: bytes to text (encodings, byte-order marks) and strict
JSON (duplicate keys with both lines, exact numbers, bounded nesting)."""

from __future__ import annotations

import codecs
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentives.engine.errors import InputError
from incentives.engine.model.jsonio import MAX_DEPTH, JsonError, load_json
from incentives.engine.model.textio import DecodeError, check_encoding, decode, decode_line


def test_duplicate_key_names_both_lines() -> None:
    text = '{"employees": 50,\n "name": "x",\n "employees": 500}'
    with pytest.raises(JsonError) as caught:
        load_json(text)
    assert "'employees'" in str(caught.value) and "lines 1 and 3" in str(caught.value)
    assert caught.value.line == 3


def test_duplicate_key_in_a_nested_object_is_placed_in_that_object() -> None:
    text = '{"employees": 1,\n "financials": {"2025": {"revenue": 1,\n  "revenue": 2}}}'
    with pytest.raises(JsonError, match=r"'revenue'.*lines 2 and 3"):
        load_json(text)


def test_same_key_in_sibling_objects_is_fine() -> None:
    assert load_json('[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"a": NaN}', "NaN"),
        ('{"a": -Infinity}', "Infinity"),
        ('{"a": ' + "9" * 60 + "}", "too large"),
        ('{"a": 1e-99999999999999999999}', "exponent too large"),  # no Decimal holds it
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper"),
        ("[" * 200_000 + "]" * 200_000, "nested deeper"),
        ('{"a": 1,}', "invalid JSON"),
        ("", "invalid JSON"),
    ],
)
def test_refusals(text: str, words: str) -> None:
    with pytest.raises(JsonError, match=words):
        load_json(text)


def test_numbers_are_exact_and_a_bom_is_accepted() -> None:
    assert load_json('\ufeff{"share": 0.1, "n": 3}') == {"share": Decimal("0.1"), "n": 3}


@given(st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
))  # fmt: skip
def test_agrees_with_the_standard_library_on_valid_json(value: object) -> None:
    import json

    text = json.dumps(value)
    assert load_json(text) == json.loads(text)


def test_gbk_file_is_refused_with_the_likely_encoding_and_read_when_named() -> None:
    data = "企业名称,营业收入\n太原某公司,5000万元\n".encode("gb18030")
    with pytest.raises(DecodeError) as caught:
        decode(data, "register.csv")
    assert "register.csv:1" in str(caught.value) and "--encoding gb18030" in str(caught.value)
    assert decode(data, "register.csv", "gbk").startswith("企业名称")


def test_bad_byte_names_its_line() -> None:
    with pytest.raises(DecodeError, match=r"f.yaml:3: not valid utf-8"):
        decode(b"a: 1\nb: 2\nc: \xff\xfe\xfd\n", "f.yaml")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_byte_order_marks_are_dropped(encoding: str) -> None:
    data = "名称: x\n".encode(encoding)
    if encoding == "utf-8":
        data = codecs.BOM_UTF8 + data
    assert decode(data, "f") == "名称: x\n"


def test_one_bad_line_of_a_stream() -> None:
    assert decode_line(codecs.BOM_UTF8 + b'{"a": 1}') == '{"a": 1}'
    with pytest.raises(ValueError, match="GBK"):
        decode_line("企业名称".encode("gbk"))


def test_unknown_encoding_name() -> None:
    with pytest.raises(InputError, match="unknown encoding 'gbx'"):
        check_encoding("gbx")
