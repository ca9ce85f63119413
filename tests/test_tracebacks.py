"""``--tb`` styles from a record's traceback text (harness/tracebacks.py)."""

from __future__ import annotations

import traceback
from pathlib import Path

from harness.tracebacks import format_traceback, parse


def _chained() -> str:
    def inner() -> None:
        raise KeyError("missing")

    try:
        try:
            inner()
        except KeyError as exc:
            raise RuntimeError("while loading\nsecond line") from exc
    except RuntimeError as exc:
        return "".join(traceback.format_exception(exc))
    raise AssertionError("unreachable")


def test_short_shows_the_last_exception_by_its_frames_outside_harness() -> None:
    text = _chained()
    frames, message = parse(text)
    assert [frame.function for frame in frames] == ["_chained"]
    assert message == ["RuntimeError: while loading", "second line"]
    here = Path(__file__).resolve()
    lines = format_traceback(text, "short", cwd=here.parent.parent)
    assert lines[0].startswith(f"tests/{here.name}:") and lines[0].endswith(": in _chained")
    assert lines[1] == '    raise RuntimeError("while loading\\nsecond line") from exc'
    assert lines[2:] == ["E   RuntimeError: while loading", "E   second line"]
    assert format_traceback(text, "long")[-2:] == ["RuntimeError: while loading", "second line"]
    assert "KeyError: 'missing'" in format_traceback(text, "long")
    assert format_traceback(text, "no") == []


def test_short_leaves_harnesss_own_frames_out_but_keeps_one() -> None:
    import harness.config

    def text_of(call) -> str:
        try:
            call()
        except ValueError as exc:
            return "".join(traceback.format_exception(exc))
        raise AssertionError("no exception")

    lines = format_traceback(text_of(lambda: harness.config.positive_int("x")), "short")
    assert [line.rsplit(" in ", 1)[-1] for line in lines if ": in " in line] == ["text_of", "<lambda>"]
    assert "config.py" not in "".join(lines)
    assert lines[-1] == "E   ValueError: invalid value 'x': expected a positive whole number"
    frames, _ = parse(text_of(lambda: harness.config.positive_int("x")))
    only_harness = "Traceback (most recent call last):\n" + "".join(
        f'  File "{harness.config.__file__}", line {frame.line}, in {frame.function}\n    {frame.source}\n'
        for frame in frames[1:]) + "ValueError: bad\n"
    lines = format_traceback(only_harness, "short")
    assert len(lines) == 3 and lines[0].endswith(": in _whole") and lines[2] == "E   ValueError: bad"
