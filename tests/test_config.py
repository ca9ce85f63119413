from __future__ import annotations

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
    resolved = resolve_options({"preset": "p", "epochs": 2}, file, presets)
    assert resolved.epochs == 2  # command line
    assert resolved.model == ["b"]  # preset
    assert resolved.seed == 7  # file
    assert resolved.batch_size == 32  # default


def test_file_values_are_checked_and_named() -> None:
    file = ConfigFile(None, {"epochs": "many"})
    with pytest.raises(UsageError, match="defaults: epochs: invalid value 'many'"):
        resolve_options({}, file, {})


def test_unknown_file_key_suggests() -> None:
    file = ConfigFile(None, {"epoch": 3})
    with pytest.raises(UsageError, match="unknown option 'epoch' \\(did you mean epochs"):
        resolve_options({}, file, {})


def test_unknown_preset() -> None:
    with pytest.raises(UsageError, match="unknown preset 'sed'; did you mean seed"):
        resolve_options({"preset": "sed"}, ConfigFile(None, {}), {"seed": {}})


def test_options_are_frozen() -> None:
    import dataclasses

    options = resolve_options({"epochs": 2}, ConfigFile(None, {}), {})
    assert options.epochs == 2 and options["epochs"] == 2 and options.origin("epochs") == "command line"
    assert options.seed == 1 and options.origin("seed") == "default"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.epochs = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.brand_new = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="no option 'epoch'"):
        options.epoch  # noqa: B018
    assert options.epochs == 2


def test_options_are_typed_by_their_declaration() -> None:
    from harness.config import RUN_OPTION_BY_DEST

    file = ConfigFile(None, {"time": "1m30s", "devices": "0,2"})
    options = resolve_options({}, file, {})
    assert options.time == 90.0 and options.devices == [0, 2]
    assert options.of(RUN_OPTION_BY_DEST["time"]) == 90.0


def test_one_declaration_gives_the_flag_the_file_key_and_the_pytest_flag(tmp_path) -> None:
    """``batch_size`` is declared once, in RUN_OPTIONS: ``harness run --batch-size``, ``batch_size`` in
    harness.toml and ``pytest --harness-batch-size`` all reach ``config.options.batch_size``, checked alike."""
    from _pytest.config.argparsing import Parser

    from harness.cli import make_config
    from harness.pytest_plugin import harness_argv, pytest_addoption

    assert make_config(["run", "--batch-size", "7"], tmp_path).options.batch_size == 7
    (tmp_path / "harness.toml").write_text("batch_size = 9\n")
    assert make_config(["run"], tmp_path).options.batch_size == 9
    (tmp_path / "harness.toml").unlink()

    parser = Parser(_ispytest=True)
    pytest_addoption(parser)
    namespace = parser.parse(["--harness-batch-size", "5"])

    class PytestConfig:
        def getoption(self, name: str) -> object:
            return getattr(namespace, name)

    argv = harness_argv(PytestConfig())  # type: ignore[arg-type]
    assert argv[argv.index("--batch-size") + 1] == "5"
    assert make_config(argv, tmp_path).options.batch_size == 5
    with pytest.raises(UsageError, match="argument --batch-size: invalid value 'x': expected a positive whole"):
        make_config(["run", "--batch-size", "x"], tmp_path)
    (tmp_path / "harness.toml").write_text('batch_size = "x"\n')
    with pytest.raises(UsageError, match="harness.toml: batch_size: invalid value 'x': expected a positive whole"):
        make_config(["run"], tmp_path)


def test_a_declaration_error_is_a_declaration_error() -> None:
    from harness.config import OptionParser
    from harness.config.options import DeclarationError

    parser = OptionParser("mine")
    option = parser.addoption("--mine-size", parse=int, default=3)
    assert (option.dest, option.group, option.plugin, option.file_key) == ("mine_size", "mine", "mine", "mine_size")
    for flags, kwargs in [((), {}), (("size",), {}), (("--x",), {"many": True, "flag": True}),
                          (("--values",), {}), (("--x",), {"nargs": "+"})]:
        with pytest.raises(DeclarationError):
            parser.addoption(*flags, **kwargs)


def test_options_travel_to_a_worker_process_unchanged() -> None:
    import copy
    import pickle

    options = resolve_options({"epochs": 2, "model": ["tiny"]}, ConfigFile(None, {"seed": 4}), {})
    for copied in (pickle.loads(pickle.dumps(options)), copy.deepcopy(options)):
        assert copied == options and copied.origin("seed") == "file" and copied.model == ["tiny"]
