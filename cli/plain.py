"""`check`'s table and text laid out for a file or a pipe without rich's console: the same
bytes as rich prints there (no colour, every line wrapped at the console's width, the table in
rich's heavy-headed box), at a fraction of the start-up and layout time.

The layout is rich's, followed step by step: a line is cut into words (a word keeps the
spaces after it), a word that does not fit goes to the next line, one longer than the whole
width is folded; a table's columns take the width of their widest line, and when the table is
too wide the widest columns are narrowed first. Widths are counted in terminal cells by rich's
own `rich.cells` (Chinese characters take two), so both agree on every character.

What this module does not promise to lay out as rich would, it refuses with `NotPlain` (a
tab, a column narrower than three cells, a table wider than the width, a header rich would read
as markup), and the caller prints with rich instead. `tests/test_plain_layout.py`
compares both on generated text and on every example."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import TextIO

from rich.cells import cell_len, chop_cells, set_cell_size

_WORD = re.compile(r"\s*\S+\s*")  # a word and the spaces after it (those before: the first)
_TRAILING_SPACE = re.compile(r"\s+$")
_NARROWEST = 3  # a column's cells: one space each side of at least one character


class NotPlain(Exception):
    """The text holds something this layout does not reproduce; print it with rich."""


def plain_stream(stream: TextIO) -> bool:
    """Whether rich would write to `stream` without colour or terminal sizing: not a terminal
    (nor forced to be one by `TTY_COMPATIBLE=1` or `FORCE_COLOR`), written as UTF-8 (else rich
    draws the table in ASCII), not Windows' legacy console nor a notebook."""
    if sys.platform == "win32" or "IPython" in sys.modules:
        return False
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible == "1" or (compatible != "0" and os.environ.get("FORCE_COLOR")):
        return False
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower()
    isatty = getattr(stream, "isatty", None)
    try:
        return encoding.startswith("utf") and isatty is not None and not isatty()
    except ValueError:  # a closed stream: rich's console says what happens then, as before
        return False


def _breaks(text: str, width: int) -> list[int]:
    """Where a line of `text` is broken to fit `width` cells (rich's `divide_line`, folding)."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group()
        length = cell_len(word.rstrip())
        if width - offset >= length:
            offset += cell_len(word)
        elif length > width:
            pieces = chop_cells(word, width)
            for index, piece in enumerate(pieces):
                if start:
                    breaks.append(start)
                if index == len(pieces) - 1:
                    offset = cell_len(piece)
                else:
                    start += len(piece)
        elif offset and start:
            breaks.append(start)
            offset = cell_len(word)
    return breaks


def _fitted(piece: str, width: int, pad: bool) -> str:
    """One wrapped line: spaces past the width dropped, cut to the width, padded if asked."""
    if len(piece) > width:
        space = _TRAILING_SPACE.search(piece)
        if space is not None:
            piece = piece[: len(piece) - min(len(space.group()), len(piece) - width)]
    length = cell_len(piece)
    if length > width:
        piece = set_cell_size(piece, width)
    elif pad and length < width:
        piece += " " * (width - length)
    return piece


def wrapped(text: str, width: int, pad: bool = False) -> list[str]:
    """`text` wrapped to `width` cells, line by line, as rich wraps a `Text` (overflow
    "fold"; `pad`: left-justified to the full width, as in a table's cell)."""
    if "\t" in text or width < 1:
        raise NotPlain("tab or no width")
    lines = []
    for line in text.split("\n"):
        # a line that fits is not broken: its words' widths add up to at most the line's
        fits = cell_len(line) <= width
        cuts = [0, len(line)] if fits else [0, *_breaks(line, width), len(line)]
        for start, end in pairwise(cuts):
            lines.append(_fitted(line[start:end], width, pad))
    if any(cell_len(line) > width for line in lines):
        raise NotPlain("a line wider than the width")
    return lines


def _widest(text: str, width: int) -> int:
    """The widest a padded cell of `text` asks for, at most `width` (rich's measurement)."""
    if width - 2 < 1:
        return width
    inner = max((cell_len(line) for line in text.splitlines()), default=0)
    return min(min(inner, width) + 2, width)


def _reduced(excess: int, ratios: list[int], limits: list[int], values: list[int]) -> list[int]:
    """`values` less `excess` in all, shared by `ratios`, none by more than its limit."""
    ratios = [ratio if limit else 0 for ratio, limit in zip(ratios, limits, strict=True)]
    left, total = excess, sum(ratios)
    if not total:
        return values[:]
    result = []
    for ratio, limit, value in zip(ratios, limits, values, strict=True):
        if ratio and total > 0:
            taken = min(limit, round(ratio * left / total))
            result.append(value - taken)
            left -= taken
            total -= ratio
        else:
            result.append(value)
    return result


def _collapsed(widths: list[int], room: int) -> list[int]:
    """The widest columns narrowed, step by step to the next widest, until the table fits."""
    excess = sum(widths) - room
    while sum(widths) and excess > 0:
        widest = max(widths)
        second = max((w for w in widths if w != widest), default=0)
        if widest == second:
            break
        ratios = [1 if w == widest else 0 for w in widths]
        widths = _reduced(excess, ratios, [min(excess, widest - second)] * len(widths), widths)
        excess = sum(widths) - room
    return widths


def column_widths(columns: Sequence[Sequence[str]], room: int) -> list[int]:
    """Each column's width with its padding, the columns' cells (header first) fitted in
    `room` cells (the width less the borders)."""
    widths = [max(_widest(cell, room) for cell in column) or 1 for column in columns]
    if sum(widths) > room:
        widths = _collapsed(widths, room)
        if sum(widths) > room:
            widths = _reduced(sum(widths) - room, [1] * len(widths), widths, widths)
        widths = [max(_widest(cell, width) for cell in column) if width >= 1 else 0
                  for width, column in zip(widths, columns, strict=True)]  # fmt: skip
    if min(widths) < _NARROWEST or sum(widths) > room:
        raise NotPlain("a column too narrow, or the table too wide")
    return widths


def _row(cells: Sequence[str], widths: Sequence[int], edge: str, bottom: bool) -> Iterator[str]:
    laid = [[f" {line} " for line in wrapped(cell, width - 2, pad=True)]
            for cell, width in zip(cells, widths, strict=True)]  # fmt: skip
    height = max(len(lines) for lines in laid)
    for index, (lines, width) in enumerate(zip(laid, widths, strict=True)):
        blank = [" " * width] * (height - len(lines))
        laid[index] = blank + lines if bottom else lines + blank
    for line in zip(*laid, strict=True):
        yield edge + edge.join(line) + edge


def table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[str]:
    """A table of `headers` and `rows` in `width` cells, as rich's `Table()` draws it (heavy
    head, one space of padding, columns folding, headers at the bottom of their row)."""
    if any(mark in header for header in headers for mark in "[:"):
        raise NotPlain("a header rich reads as markup or an emoji code")
    columns = [[header, *(row[index] for row in rows)] for index, header in enumerate(headers)]
    widths = column_widths(columns, width - len(headers) - 1)
    lines = ["┏" + "┳".join("━" * w for w in widths) + "┓"]
    lines += _row(headers, widths, "┃", bottom=True)
    lines.append("┡" + "╇".join("━" * w for w in widths) + "┩")
    for row in rows:
        lines += _row(row, widths, "│", bottom=False)
    lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
    return lines
