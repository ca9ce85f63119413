"""Hostile configuration and command lines: one line naming the file or option at fault, exit 4, before any
training; a plugin that breaks is exit 3 with its traceback."""

from __future__ import annotations

import os
import subprocess

import pytest

from harness.store import RunStore
from tests.faults.conftest import RUN, user_error

COLLECT = ("run", "--dataset", "pics", "--augmentation", "none", "--model", "tiny", "--collect-only")


@pytest.mark.parametrize(("text", "expected"), [
    ("epochs = [", "harness.toml: invalid TOML"),
    ("epochs = 2\nepochs = 3\n", "harness.toml: invalid TOML"),
    ("epocs = 2\n", "harness.toml: unknown option 'epocs' (did you mean epochs"),
    ("epochs = -2\n", "harness.toml: epochs: invalid value -2: expected a positive whole number"),
    ("epochs = \"many\"\n", "harness.toml: epochs: invalid value 'many'"),
    ("time = \"soon\"\n", "harness.toml: time: invalid duration 'soon'"),
    ("model = 3\n", "harness.toml: model: invalid value 3: expected a name in quotes"),
    ("dataset = [\"pics\", 7]\n", "harness.toml: dataset: invalid value 7: expected a name in quotes"),
    ("seed = 4294967296\n", "harness.toml: seed: invalid value 4294967296: expected a whole number from 0 to"),
    ("params = 3\n", "harness.toml: 'params' must be a table"),
    ("[datasets.other]\npath = \"x\"\n", "datasets.other: needs a 'plugin' key"),
    ("[datasets.other]\nplugin = \"nonesuch\"\n", "datasets.other: unknown dataset 'nonesuch'"),
    ("epochs = 2 # caf\xe9\n".encode("latin-1").decode("latin-1"), None),
])
def test_a_bad_configuration_file_is_one_line_naming_it(tester, text, expected) -> None:
    config = tester.path / "harness.toml"
    tables = text.startswith("[")  # after the file's own keys; other keys before its tables
    config.write_text(config.read_text() + "\n" + text if tables else text + config.read_text())
    result = tester.run(*COLLECT)
    if expected is None:
        assert result.ret == 0, result.stderr
        return
    assert result.ret == 4
    line = user_error(result.stderr)
    assert str(config) in line and expected in line
    assert not list(tester.path.glob("reports/*"))


def test_a_configuration_file_with_a_byte_order_mark_is_read(tester) -> None:
    """Before the fix: "invalid TOML (at line 1, column 1)" for a file that Windows editors write."""
    config = tester.path / "harness.toml"
    config.write_bytes(b"\xef\xbb\xbfmodel = [\"tiny\"]\n" + config.read_bytes())
    result = tester.run("run", "--dataset", "pics", "--augmentation", "none", "--collect-only")
    assert result.ret == 0, result.stderr
    assert "pics-none-tiny" in result.stdout


def test_a_configuration_file_that_is_not_utf8_is_one_line(tester) -> None:
    config = tester.path / "harness.toml"
    config.write_bytes(config.read_bytes() + b"\nepochs = 2 # \xff\n")
    assert "harness.toml: invalid TOML: 'utf-8' codec can't decode" in user_error(tester.run(*COLLECT).stderr)


def test_a_configuration_file_that_cannot_be_read_is_one_line(tester) -> None:
    """Before the fix a folder named harness.toml was silently passed over (and an unreadable file was exit 3
    with a traceback: see the next test)."""
    config = tester.path / "harness.toml"
    config.unlink()
    config.mkdir()
    result = tester.run(*COLLECT)
    assert result.ret == 4
    assert user_error(result.stderr) == f"harness: error: {config}: cannot read: Is a directory"


def test_an_unreadable_configuration_file_is_one_line(tester) -> None:
    """Before the fix: exit 3 with a PermissionError traceback."""
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    config = tester.path / "harness.toml"
    config.chmod(0o000)
    result = tester.run(*COLLECT)
    assert result.ret == 4
    assert user_error(result.stderr) == f"harness: error: {config}: cannot read: Permission denied"


@pytest.mark.parametrize(("args", "expected"), [
    (("--seed", "4294967296"), "argument --seed: invalid value '4294967296': expected a whole number from 0 to "
                               "4294967295"),
    (("--seed", "-1"), "argument --seed: invalid value '-1'"),
    (("--epochs", "0"), "argument --epochs: invalid value '0': expected a positive whole number"),
    (("--batch-size", "1e3"), "argument --batch-size: invalid value '1e3'"),
    (("--time", "forever"), "argument --time: invalid duration 'forever'"),
    (("--set", "pics"), "argument --set: invalid setting 'pics': expected NAME.KEY=VALUE"),
    (("--set", "nonesuch.x=1"), "--set/params: unknown dataset, augmentation or model 'nonesuch'"),
    (("--set", "none.num_classes=4"), "--set/params: augmentation 'none' has no 'num_classes' to set"),
    (("--precision", "float8"), "argument --precision: invalid value 'float8'"),
    (("--model", "tinny"), "unknown model 'tinny'; did you mean tiny?"),
])
def test_a_bad_option_is_one_line_before_any_training(tester, args, expected) -> None:
    """--seed beyond 2**32 - 1 used to be accepted, then every task failed in NumPy; a --set of a spec field
    that the spec does not have was silently ignored."""
    result = tester.run(*RUN, *args)
    assert result.ret == 4
    assert expected in user_error(result.stderr)
    assert not list(tester.path.glob("reports/*/records.jsonl"))


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_set_num_classes_on_synthetic_takes_effect(tester) -> None:
    """Before the fix --set synthetic.num_classes=4 set the spec field only: the data kept 2 classes."""
    result = tester.run("run", "--dataset", "synthetic", "--augmentation", "none", "--model", "tiny", "--steps",
                        "1", "-q", "--set", "synthetic.num_classes=4", "--set", "synthetic.train_per_class=8",
                        "--set", "synthetic.validation_per_class=4", "--set", "synthetic.test_per_class=4")
    assert result.ret in (0, 1), result.stderr
    (record,) = result.records
    assert len(record["dataset_info"]["class_names"]) == 4
    assert record["config"]["dataset"]["params"]["num_classes"] == 4


PLUGIN_BUGS = {
    "raises": ('raise RuntimeError("registration exploded")', 3, "RuntimeError: registration exploded"),
    "string": ('return "tiny"', 4, "harness_models_register returned 'tiny', expected a list of ModelSpec"),
    "number": ("return 3", 4, "harness_models_register returned 3"),
}


@pytest.mark.parametrize("bug", sorted(PLUGIN_BUGS))
def test_a_broken_registration_hook_is_blamed_on_its_plugin(tester, monkeypatch, bug) -> None:
    body, code, expected = PLUGIN_BUGS[bug]
    monkeypatch.syspath_prepend(str(tester.path))
    tester.make_plugin(f"import harness\n\n@harness.hookimpl\ndef harness_models_register(config):\n    {body}\n",
                       name=f"buggy_{bug}")  # a module per case: an imported module stays imported
    result = tester.run("-p", f"buggy_{bug}", *COLLECT)
    assert result.ret == code
    assert expected in result.stderr and f"buggy_{bug}" in result.stderr
    if code == 3:
        assert "Traceback" in result.stderr and "internal error (exit code 3)" in result.stderr
    else:
        user_error(result.stderr)


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_report_on_a_read_only_run_directory_is_one_line(tmpfs, tester) -> None:
    """harness report on a run directory it cannot write: exit 4 naming the file, no traceback."""
    first = tester.run(*RUN)
    assert first.ret in (0, 1)
    mounted = tmpfs("ro", "1m")
    subprocess.run(["cp", "-a", str(first.run_dir), str(mounted)], check=True)
    subprocess.run(["mount", "-o", "remount,ro", str(mounted)], check=True)
    copy = mounted / first.run_dir.name
    result = tester.run("report", str(copy))
    assert result.ret == 4
    line = user_error(result.stderr)
    assert f"cannot write {copy}" in line and "Read-only file system" in line
    assert RunStore(copy).records() == first.records
