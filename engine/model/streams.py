"""Numbered lines of a byte stream (a register of JSON Lines or CSV, a `watch` stream), each
decoded on its own so that a bad byte spoils only its line, and each bounded in length so that
a file without line breaks cannot fill the memory.

The encoding is the one given (`--encoding`), else the one a byte-order mark announces, else
UTF-8. UTF-16 and UTF-32 streams are cut at their own line breaks (two or four bytes); every
other encoding the engine reads (UTF-8, GB18030/GBK, Big5) keeps the byte 0x0A for the line
break only, so the stream is cut at that byte.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from .textio import DEFAULT_ENCODING, bom_encoding, check_encoding, decode_line

MAX_LINE = 1 << 20  # bytes in one line (a register row, an update); longer lines are refused
_CHUNK = 1 << 16
_WIDE = {"utf-16": 2, "utf-32": 4}  # code unit sizes of the encodings whose line break is wide


class Line(NamedTuple):
    """Line `number` (from 1) of a stream: its text with the line break, or, when `problem`
    says why it is not usable (bytes that do not decode, a line over `MAX_LINE`), a stand-in
    text decoded with replacement characters so that a reader can keep its place."""

    number: int
    text: str
    problem: str | None = None


def stream_codec(head: bytes, encoding: str | None) -> tuple[str, bytes]:
    """The codec to decode every line with (byte order fixed) and the byte-order mark that
    starts the stream (b"" when none), from the stream's first bytes and `--encoding`."""
    announced = bom_encoding(head)
    codec = check_encoding(encoding) if encoding is not None else announced or DEFAULT_ENCODING
    bom = b""
    if announced is not None and codecs.lookup(announced).name == codecs.lookup(codec).name:
        bom = next(m for m in _boms(announced) if head.startswith(m))
    if codec in _WIDE:  # fix the byte order: lines after the first carry no mark
        little = not bom or bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE)
        codec = f"{codec}-{'le' if little else 'be'}"
    elif codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
        bom = codecs.BOM_UTF8
    return codec, bom


def _boms(name: str) -> tuple[bytes, ...]:
    if name == "utf-32":
        return (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
    if name == "utf-16":
        return (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    return (codecs.BOM_UTF8,)


def numbered_lines(
    handle: BinaryIO, encoding: str | None = None, max_line: int = MAX_LINE
) -> Iterator[Line]:
    """Every line of `handle`, numbered from 1, decoded alone; see `Line`.

    Raises InputError, when iterated, for an encoding name Python does not know."""
    peek = getattr(handle, "peek", None)  # a stream's first bytes, without waiting for more
    head = peek(4)[:4] if peek is not None else handle.read(4)
    codec, bom = stream_codec(head, encoding)
    reader = _Reader(handle, b"" if peek is not None else head)
    unit = _WIDE.get(codec[:6], 1)
    raw_lines = _narrow(reader, max_line) if unit == 1 else _wide(reader, codec, unit, max_line)
    # decode_line drops a UTF-8 mark at the start of any line when it guesses the encoding
    given = None if encoding is None and codec == "utf-8" else codec
    for number, (raw, too_long) in enumerate(raw_lines, start=1):
        if number == 1 and bom:
            raw = raw[len(bom) :]
        if too_long:
            text = raw[:200].decode(codec, errors="replace")
            yield Line(number, text, f"line longer than {max_line:,} bytes")
            continue
        try:  # the usual line decodes at once; decode_line drops a mark and words a refusal
            text = raw.decode(codec) if raw[:3] != codecs.BOM_UTF8 else decode_line(raw, given)
        except (UnicodeDecodeError, ValueError):
            yield Line(number, raw.decode(codec, errors="replace"), _refusal(raw, given))
            continue
        yield Line(number, text)


def _refusal(raw: bytes, given: str | None) -> str:
    try:
        decode_line(raw, given)
    except ValueError as exc:
        return str(exc)
    return "not valid text"  # pragma: no cover - decode_line refuses what decode refused


class _Reader:
    """`handle` with bytes already read put back in front."""

    def __init__(self, handle: BinaryIO, pending: bytes) -> None:
        self.handle = handle
        self.pending = pending

    def read(self, size: int) -> bytes:
        """Up to `size` bytes, without waiting for more than one read of a stream brings."""
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        read1 = getattr(self.handle, "read1", None)
        return read1(size) if read1 is not None else self.handle.read(size)

    def readline(self, limit: int) -> bytes:
        pending = self.pending
        if not pending:
            return self.handle.readline(limit)
        self.pending = b""
        cut = pending.find(b"\n")
        if cut >= 0:
            self.pending = pending[cut + 1 :]
            return pending[: cut + 1]
        return pending + self.handle.readline(limit - len(pending))


def _narrow(reader: _Reader, max_line: int) -> Iterator[tuple[bytes, bool]]:
    """(bytes of a line with its break, whether it was cut at `max_line`), cut at b"\n"; the
    rest of a cut line is skipped."""
    while True:
        raw = reader.readline(max_line + 1)
        if not raw:
            return
        if len(raw) <= max_line or (raw.endswith(b"\n") and len(raw) == max_line + 1):
            yield raw, False
            continue
        yield raw[:max_line], True
        while raw and not raw.endswith(b"\n"):
            raw = reader.readline(_CHUNK)


def _wide(reader: _Reader, codec: str, unit: int, max_line: int) -> Iterator[tuple[bytes, bool]]:
    """`_narrow` for UTF-16 and UTF-32, whose line break is a code unit of 2 or 4 bytes."""
    newline = "\n".encode(codec)
    buffer, skipping = b"", False
    while True:
        chunk = reader.read(_CHUNK)
        buffer += chunk
        start = 0
        while (found := _find(buffer, newline, unit, start)) >= 0:
            end = found + unit
            if not skipping:
                too_long = end - start > max_line
                yield buffer[start : min(end, start + max_line)], too_long
            skipping, start = False, end
        buffer = buffer[start:]
        if len(buffer) > max_line:  # a line without a break so far: report once, then skip
            if not skipping:
                yield buffer[:max_line], True
            skipping, buffer = True, buffer[len(buffer) - len(buffer) % unit :]
        if not chunk:
            if buffer and not skipping:
                yield buffer, False
            return


def _find(buffer: bytes, newline: bytes, unit: int, origin: int) -> int:
    """The first line break of `buffer` after `origin` (where a line starts, on a code-unit
    boundary) that is on a code-unit boundary, or -1."""
    at = origin
    while True:
        found = buffer.find(newline, at)
        if found < 0 or (found - origin) % unit == 0:
            return found
        at = found + 1
