"""`check`'s plain layout (`cli/plain.py`, used for a file or a pipe) gives exactly the bytes
rich's console prints there: on generated reports (tables and details of wide and narrow
characters, long words, line breaks, any width) and on every example, in both languages, with
and without `--explain`; and the command line takes the plain layout when writing to a pipe."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from incentives.cli.main import FILE_WIDTH, main
from incentives.cli.plain import NotPlain, plain_stream, table_lines, wrapped
from incentives.cli.render import ReportView, Setting, plain_text, print_view, report_view
from incentives.engine import PolicySet
from incentives.engine.model.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.y*ml")) + sorted((ROOT / "examples").glob("*.json"))
AS_OF = date(2026, 11, 24)
GENERATED = examples(40)
STATUSES = ("eligible", "ineligible", "undetermined", "needs_review", "not_in_force")

# What reports hold: Latin and Chinese (two cells) text, full-width punctuation, the marks the
# renderers write, spaces of both widths, a combining accent and an emoji.
_ALPHABET = "abcdefgh XYZ 0123456789 .,;()-/%¥—■←✔✘⚑? 中华人民共和国企业所得税法第二十八条（）：，\u3000e\u0301👍"
_words = st.text(_ALPHABET, max_size=40)
_line = st.lists(_words, max_size=6).map(" ".join)
_cell = st.lists(_line, min_size=1, max_size=3).map("\n".join)


def _rich(view: ReportView, width: int) -> str:
    out = io.StringIO()
    print_view(view, Console(file=out, highlight=False, soft_wrap=False, width=width))
    return out.getvalue()


@st.composite
def views(draw: st.DrawFn) -> ReportView:
    rows = draw(st.lists(st.tuples(_line, _cell, _line, _cell), max_size=5))
    details = draw(st.lists(st.tuples(st.sampled_from(STATUSES), _line,
                                      st.lists(_line, min_size=1, max_size=4).map(tuple)),
                            max_size=4))  # fmt: skip
    headers = draw(st.sampled_from([("Status", "Policy", "Amount", "Source"), ("状态", "政策", "金额", "依据")]))
    return ReportView(
        header=draw(_line),
        headers=headers,
        rows=tuple(rows),
        statuses=tuple(draw(st.sampled_from(STATUSES)) for _ in rows),
        summary=tuple(draw(st.lists(_line, min_size=1, max_size=3))),
        details=tuple(details),
    )


@settings(max_examples=GENERATED)
@given(views(), st.one_of(st.just(FILE_WIDTH), st.integers(20, 200)))
def test_generated_reports_are_laid_out_as_rich_lays_them_out(view: ReportView, width: int) -> None:
    try:
        plain = plain_text(view, width)
    except NotPlain:
        return  # printed by rich: nothing to compare
    assert plain == _rich(view, width)


@pytest.fixture(scope="module")
def library() -> PolicySet:
    return PolicySet()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_laid_out_as_rich_lays_it_out(library: PolicySet, path: Path) -> None:
    """Explained, each language once, with and without the policies not in force (the lines
    without `--explain` are those with it less the trees)."""
    report = library.evaluate(load_profile(path), AS_OF, explain=True)
    setting = Setting.of(library, report)
    for lang, show_all in (("en", True), ("zh", False)):
        view = report_view(report, lang, True, show_all, setting)
        assert plain_text(view, FILE_WIDTH) == _rich(view, FILE_WIDTH), lang


def test_the_command_line_writes_the_plain_layout_to_a_pipe(library: PolicySet) -> None:
    path = ROOT / "examples" / "jinzhong-hightech.yaml"
    result = CliRunner().invoke(main, ["check", str(path), "--as-of", AS_OF.isoformat(), "--explain"])
    assert result.exit_code == 0, result.output
    report = library.evaluate(load_profile(path), AS_OF, explain=True)
    view = report_view(report, "en", True, False, Setting.of(library, report))
    assert result.stdout == plain_text(view, FILE_WIDTH)


def test_rich_prints_what_the_plain_layout_does_not_promise() -> None:
    with pytest.raises(NotPlain):
        wrapped("a\tb", 20)
    with pytest.raises(NotPlain):
        table_lines(("[bold]x[/]",), [("y",)], 20)
    with pytest.raises(NotPlain):  # six columns of at least three cells in ten
        table_lines(tuple("abcdef"), [tuple("uvwxyz")], 10)


def test_a_terminal_or_forced_colour_is_left_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert plain_stream(io.StringIO())
    assert not plain_stream(Terminal())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not plain_stream(io.StringIO())
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert not plain_stream(io.StringIO())
    latin = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    monkeypatch.delenv("TTY_COMPATIBLE")
    assert not plain_stream(latin)
