from __future__ import annotations

import argparse

import pytest

from harness.config import ConfigFile, parse_assignment, parse_duration, positive_int, resolve_options
from harness.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("1.5m", 90.0), ("1h30m", 5400.0), ("250ms", 0.25), (12, 12.0)],
)
def test_parse_duration(text, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "5 minutes", "-3", "0"])
def test_parse_duration_rejects_with_the_value_quoted(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_positive_int_quotes_value() -> None:
    with pytest.raises(ValueError, match="'-2': expected a positive whole number"):
        positive_int("-2")


def test_parse_assignment() -> None:
    assert parse_assignment("mobilenet_v2.weights=none") == ("mobilenet_v2", "weights", "none")
    assert parse_assignment("rotate.factor=0.3") == ("rotate", "factor", 0.3)
    assert parse_assignment("synthetic.image_size=[16, 16]") == ("synthetic", "image_size", [16, 16])
    with pytest.raises(ValueError, match="NAME.KEY=VALUE"):
        parse_assignment("oops")


def test_precedence_cli_over_preset_over_file() -> None:
    file = ConfigFile(None, {"epochs": 3, "seed": 7, "model": ["a"]})
    presets = {"p": {"epochs": 10, "model": ["b"]}}
    resolved = resolve_options(argparse.Namespace(preset="p", epochs=2), file, presets)
    assert resolved.epochs == 2  # command line
    assert resolved.model == ["b"]  # preset
    assert resolved.seed == 7  # file
    assert resolved.batch_size == 32  # default


def test_file_values_are_checked_and_named() -> None:
    file = ConfigFile(None, {"epochs": "many"})
    with pytest.raises(UsageError, match="defaults: epochs: invalid value 'many'"):
        resolve_options(argparse.Namespace(), file, {})


def test_unknown_file_key_suggests() -> None:
    file = ConfigFile(None, {"epoch": 3})
    with pytest.raises(UsageError, match="unknown option 'epoch' \\(did you mean epochs"):
        resolve_options(argparse.Namespace(), file, {})


def test_unknown_preset() -> None:
    with pytest.raises(UsageError, match="unknown preset 'sed'; did you mean seed"):
        resolve_options(argparse.Namespace(preset="sed"), ConfigFile(None, {}), {"seed": {}})
