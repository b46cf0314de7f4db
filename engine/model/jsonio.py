"""JSON reading that refuses what the standard library lets through silently.

- A key written twice in one object is refused with both lines (`json.loads` keeps the last).
- Numbers with a fraction are exact `Decimal`s; `NaN`, `Infinity` and integers of more than
  `MAX_INT_DIGITS` digits are refused.
- Nesting deeper than `MAX_DEPTH` levels is refused (no profile, register row or update needs
  more than a handful), so that no later step recurses without bound.
- A `\\u` escape of half a surrogate pair (`"\\ud800"`) is refused: it is not a character, and
  no later step (Polars, a UTF-8 file or terminal) can hold it.
- A byte-order mark at the start is accepted.

Where orjson is installed (the `batch` extra), a text it can answer for exactly is parsed by it
(`_by_orjson`): no number with a fraction, an exponent or more than 18 digits (which must be
Decimals or refused), no escape that could hide a quote or a colon, no quote before whitespace,
no surrogate escape, shallow nesting; and no key written twice, which is checked by counting
the `":` of the text against those of orjson's own compact output (a key dropped as a duplicate
would make them differ). Any other text, and any text orjson refuses, is parsed by the
standard-library decoders below, which give the messages: the answers are the same either way.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32
_scanstring: Callable[[str, int], tuple[str, int]] = getattr(json.decoder, "scanstring")  # noqa: B009
MAX_INT_DIGITS = 40


class JsonError(ValueError):
    """JSON that cannot be used; carries the 1-based line where the problem is."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _Duplicate(Exception):
    pass


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits is too large to be a usable number")
    return int(text)


def _constant(text: str) -> Any:
    raise ValueError(f"{text} is not a usable number")


def _pairs_fast(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Duplicate
    return result


_FAST = json.JSONDecoder(
    object_pairs_hook=_pairs_fast,
    parse_float=Decimal,
    parse_int=_integer,
    parse_constant=_constant,
)
# The same without a Python call per integer, for the texts (nearly all) in which no run of
# digits is long enough for an integer to be refused: the same answers, faster.
_FAST_INTS = json.JSONDecoder(
    object_pairs_hook=_pairs_fast, parse_float=Decimal, parse_constant=_constant
)
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * (MAX_INT_DIGITS + 1)


def _long_digit_run(text: str) -> bool:
    """Whether `text` holds more than MAX_INT_DIGITS digits in a row (tested at C speed)."""
    return _LONG_RUN in text.encode("utf-8", "surrogatepass").translate(_DIGITS)


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _key_positions(text: str, start: int, end: int, key: str) -> list[int]:
    """Where `key` is written as a key of the object text[start:end] (depth 1 only)."""
    found: list[int] = []
    depth, i = 0, start
    while i < end:
        char = text[i]
        if char == '"':
            token_end = _scanstring(text, i + 1)[1]
            if depth == 1:
                after = token_end
                while after < end and text[after] in " \t\r\n":
                    after += 1
                if after < end and text[after] == ":" and json.loads(text[i:token_end]) == key:
                    found.append(i)
            i = token_end
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        i += 1
    return found


def _positional_decoder() -> json.JSONDecoder:
    """A decoder on the pure-Python scanner that knows where each object starts, used only
    to place a duplicate key the fast decoder found."""
    decoder = json.JSONDecoder(parse_float=Decimal, parse_int=_integer, parse_constant=_constant)
    # Not in the type stubs, but public attributes of the pure-Python decoder.
    parse_object: Callable[..., Any] = getattr(json.decoder, "JSONObject")  # noqa: B009

    def located(s_and_end: tuple[str, int], strict: bool, scan_once: Any, hook: Any,
                pairs_hook: Any, memo: Any = None, **kwargs: Any) -> tuple[Any, int]:  # fmt: skip
        text, start = s_and_end
        pairs, end = parse_object(s_and_end, strict, scan_once, None, list, memo, **kwargs)
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                where = _key_positions(text, start - 1, end, key)
                lines = " and ".join(str(_line(text, p)) for p in where[:2])
                shown = f" (lines {lines})" if "\n" in text.strip() else ""  # not for one line
                raise JsonError(
                    f"key {key!r} is written twice in one object{shown}; keep one of them",
                    _line(text, where[1] if len(where) > 1 else start),
                )
            seen.add(key)
        return dict(pairs), end

    setattr(decoder, "parse_object", located)  # noqa: B010
    setattr(decoder, "scan_once", getattr(json.scanner, "py_make_scanner")(decoder))  # noqa: B009, B010
    return decoder


def _depth_problem(data: Any) -> bool:
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


_UNSURE = object()
_NOT_FOR_ORJSON = re.compile(r'"[ \t\r\n]|\\u')  # a quote before whitespace; any \u escape
_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_ORJSON: Any = None  # the module, once imported; False when it is not installed


def _by_orjson(text: str) -> Any:
    """`text` parsed by orjson when its answer is certainly the strict reader's, else _UNSURE."""
    if _orjson() is False or _NOT_FOR_ORJSON.search(text):
        return _UNSURE
    digits = text.encode("utf-8", "surrogatepass").translate(_ZEROS)
    if b"0." in digits or b"0e" in digits or b"0E" in digits or b"0" * 19 in digits:
        return _UNSURE  # a number that must be a Decimal, or an integer orjson reads as a float
    if text.count("{") + text.count("[") > MAX_DEPTH:
        return _UNSURE
    try:
        data = _ORJSON.loads(text)
    except _ORJSON.JSONDecodeError:
        return _UNSURE
    if text.count('":') != _ORJSON.dumps(data).count(b'":'):
        return _UNSURE  # a key written twice (or a key count this check cannot vouch for)
    return data


def load_json(text: str) -> Any:
    """Parse one JSON document (a file, or one line of JSON Lines); raise `JsonError`."""
    if text.startswith("\ufeff"):
        text = text[1:]
    fast = _by_orjson(text)
    return strict_json(text) if fast is _UNSURE else fast


def strict_json(text: str) -> Any:
    """`load_json` by the standard-library decoders alone (what orjson's answers are checked
    against); `text` without its byte-order mark."""
    try:
        data = (_FAST if _long_digit_run(text) else _FAST_INTS).decode(text)
    except _Duplicate:
        try:
            data = _positional_decoder().decode(text)
        except JsonError:
            raise
        except (ValueError, RecursionError):  # pragma: no cover - the fast decoder accepted it
            raise JsonError("invalid JSON", None) from None
    except json.JSONDecodeError as exc:
        raise JsonError(f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except RecursionError:
        raise JsonError(f"nested deeper than {MAX_DEPTH} levels", None) from None
    except ArithmeticError:  # decimal.InvalidOperation: an exponent no Decimal can hold
        raise JsonError("invalid JSON: a number with an exponent too large to be usable", None) from None
    except ValueError as exc:  # from parse_int / parse_constant
        raise JsonError(f"invalid JSON: {exc}", None) from None
    if (text.count("{") + text.count("[") > MAX_DEPTH) and _depth_problem(data):
        raise JsonError(f"nested deeper than {MAX_DEPTH} levels", None)
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogates(text, data)
    return data


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_lone_surrogates(text: str, data: Any) -> None:
    """A pair of escapes (`\\ud83d\\ude00`) decodes to one character; half a pair stays a
    surrogate, which is refused."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and _SURROGATE.search(node):
            found = _SURROGATE_ESCAPE.search(text)
            index = found.start() if found is not None else 0
            raise JsonError(
                f"{text[index : index + 6]} is half of a UTF-16 surrogate pair, not a character",
                _line(text, index),
            )


# --- many lines at once ------------------------------------------------------------------------

# What makes `_by_orjson` unsure of a text, in one pattern (Polars' regular expressions): a quote
# before whitespace or any \u escape (`_NOT_FOR_ORJSON`, whose pattern it begins with); a digit
# before a point or an exponent, or 19 digits in a row (its test of `_ZEROS`' translation); a
# byte-order mark (`load_json` drops it at the start).
_UNSURE_PATTERN = _NOT_FOR_ORJSON.pattern + r"|[0-9][.eE]|[0-9]{19}|\x{feff}"


def load_lines(texts: list[str], one_by_one: bool = False) -> list[Any]:
    """`load_json` of each of `texts` (lines of JSON Lines), with the JsonError it raises in
    place of a refused text: the same answers, with orjson's checks (`_by_orjson`) made on the
    whole batch as Polars columns. A text that `_UNSURE_PATTERN` matches, with more than
    MAX_DEPTH brackets, or that orjson refuses, goes to `load_json` on its own. A key written
    twice is found by one count: with no quote before whitespace and no \\u escape, a text holds
    at least as many `":` as orjson's compact output of what it read, and exactly as many
    unless a key was dropped as written twice; so the batch's total equals its output's total
    only if no text dropped one (else each text is counted on its own). `one_by_one`: each
    text by `load_json` (the definition that this is tested against). Needs Polars."""
    checked = None if one_by_one or not texts or _orjson() is False else _checked(texts)
    if checked is None:
        return [_load_or_error(text) for text in texts]
    sure, keys = checked
    loads, decode_error = _ORJSON.loads, _ORJSON.JSONDecodeError
    answers: list[Any] = [_UNSURE] * len(texts)
    for i in sure:
        try:  # noqa: SIM105 - a try costs nothing in the loop, a suppress() is built per text
            answers[i] = loads(texts[i])
        except decode_error:
            pass
    _forget_dropped_keys(answers, keys)
    return [_load_or_error(t) if a is _UNSURE else a for t, a in zip(texts, answers, strict=True)]


def _forget_dropped_keys(answers: list[Any], keys: list[int]) -> None:
    """Set back to _UNSURE each of orjson's answers that holds fewer keys than its text wrote
    (`keys`: its count of `":`), counted first over them all at once."""
    read = [i for i, answer in enumerate(answers) if answer is not _UNSURE]
    written = [keys[i] for i in read]
    if sum(written) != _ORJSON.dumps([answers[i] for i in read]).count(b'":'):
        for i, count in zip(read, written, strict=True):  # some text dropped a key: which
            if count != _ORJSON.dumps(answers[i]).count(b'":'):
                answers[i] = _UNSURE


def _checked(texts: list[str]) -> tuple[list[int], list[int]] | None:
    """The positions of the texts orjson may read (`_UNSURE_PATTERN` finds nothing, at most
    MAX_DEPTH brackets) and each text's count of `":`, by Polars; None if Polars cannot hold
    the texts."""
    import polars as pl

    try:
        column = pl.Series(texts, dtype=pl.String)
    except (UnicodeEncodeError, pl.exceptions.PolarsError):
        return None
    text = pl.col("t")
    checks = pl.DataFrame({"t": column}).select(
        sure=~text.str.contains(_UNSURE_PATTERN)
        & (text.str.count_matches(r"[{\[]", literal=False) <= MAX_DEPTH),
        keys=text.str.count_matches('":', literal=True),
    )
    return checks["sure"].arg_true().to_list(), checks["keys"].to_list()


def _load_or_error(text: str) -> Any:
    try:
        return load_json(text)
    except JsonError as exc:
        return exc


def _orjson() -> Any:
    """The orjson module, imported once; False when it is not installed."""
    global _ORJSON
    if _ORJSON is None:
        try:
            import orjson

            _ORJSON = orjson
        except ImportError:  # pragma: no cover - orjson comes with the batch extra
            _ORJSON = False
    return _ORJSON
