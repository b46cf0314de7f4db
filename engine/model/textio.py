"""Bytes to text for every file and stream the engine reads: UTF-8 by default, a byte-order mark
accepted in every format alike, any other encoding by name (`--encoding gb18030` for a register
exported from a Chinese Excel), and a refusal that says where the first bad byte is and which
encoding the file probably has."""

from __future__ import annotations

import codecs

from ..errors import InputError, Problem

DEFAULT_ENCODING = "utf-8"
# Tried, in this order, to name the likely encoding of a file that is not UTF-8. GB18030 is a
# superset of GBK and GB2312 and is what Excel on a Chinese Windows writes as "ANSI" text.
_LIKELY = ("gb18030", "utf-16", "big5")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class DecodeError(InputError):
    """Bytes that are not text in the expected encoding; names the line of the first bad byte."""

    def __init__(self, summary: str, problems: list[Problem] | None = None, line: int | None = None):
        super().__init__(summary, problems)
        self.line = line


def check_encoding(name: str) -> str:
    """The codec's canonical name, or an InputError for a name Python does not know."""
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a name with a NUL in it
        codec = None
    # `rot13`, `base64`, `zlib` are codecs too, but not from bytes to text
    if codec is None or not getattr(codec, "_is_text_encoding", True):
        raise InputError(
            f"unknown encoding {name!r}; use e.g. utf-8, gb18030 (GBK/GB2312 files), big5"
        ) from None
    return codec.name


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark at the start of `data` announces, if any."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def likely_encoding(data: bytes) -> str | None:
    """A guess at the encoding of bytes that are not UTF-8 (None when nothing fits)."""
    for name in _LIKELY:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if name == "utf-16" and (data.count(0) * 4 < len(data) or "\x00" in text):
            continue  # UTF-16 text of Chinese or Latin script has many zero bytes
        return name
    return None


def decode(data: bytes, source: str, encoding: str | None = None) -> str:
    """The text of a whole file. A byte-order mark is dropped (and its encoding used when none
    is given); bytes that do not decode are refused with the line of the first bad one and, for
    a file that is not UTF-8, the encoding it probably is in."""
    name = encoding or bom_encoding(data) or DEFAULT_ENCODING
    codec = check_encoding(name)
    if codec in ("utf-8", "utf-16", "utf-32") and bom_encoding(data) is not None:
        codec = {"utf-8": "utf-8-sig"}.get(codec, codec)
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DecodeError(
            f"{source}:{line}: {decode_problem(data, exc, codec, given=encoding is not None)}",
            line=line,
        ) from None


def decode_problem(data: bytes, exc: UnicodeDecodeError, codec: str, *, given: bool) -> str:
    """Why `data` is not text in `codec`, and what to do about it."""
    shown = data[exc.start : exc.start + 4].hex(" ")
    message = f"not valid {codec} text (bytes {shown} at byte {exc.start})"
    if given:
        return message + "; check --encoding"
    likely = likely_encoding(data)
    if likely == "gb18030":
        return f"{message}; it looks like GBK/GB18030 (as Excel saves Chinese text): pass --encoding gb18030"
    if likely is not None:
        return f"{message}; it looks like {likely}: pass --encoding {likely}"
    return message + "; save the file as UTF-8 or pass --encoding"


def decode_line(raw: bytes, encoding: str | None = None) -> str:
    """One line of a stream (a register row, a `watch` update): a bad byte spoils only its line.
    Raises ValueError with the reason; a byte-order mark at the start of the line is dropped."""
    codec = encoding or DEFAULT_ENCODING
    if raw.startswith(codecs.BOM_UTF8) and codec.replace("_", "-").lower() in ("utf-8", "utf8"):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise ValueError(decode_problem(raw, exc, codec, given=encoding is not None)) from None
