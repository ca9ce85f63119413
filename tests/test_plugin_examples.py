"""The plugins of docs/plugin-examples.md, one of each kind, written from the docs alone: each imports nothing
but the public API, passes the testing kit's contract checks and takes part in a real ``harness run``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.testing import (
    HarnessTester,
    check_augmentation_spec,
    check_dataset_spec,
    check_model_spec,
    check_spec_metadata,
    registered_specs,
)
from tests.test_public_api import private_imports

PAGE = Path(__file__).resolve().parents[1] / "docs" / "plugin-examples.md"
KINDS = ("dataset", "augmentation", "model", "report", "executor")


def examples() -> dict[str, str]:
    """Each example's source, by kind: the ``python`` block after its ``<!-- example: KIND -->`` marker."""
    found = re.findall(r"<!-- example: (\w+) -->\n```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    return dict(found)


def test_the_page_has_one_example_of_each_kind() -> None:
    assert sorted(examples()) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_an_example_imports_only_the_public_api(kind: str, tmp_path: Path) -> None:
    module = tmp_path / f"{kind}.py"
    module.write_text(examples()[kind])
    assert private_imports(module, tmp_path) == []


def _registered(tmp_path: Path, kind: str, plural: str) -> object:
    (tmp_path / "harness_plugins.py").write_text(examples()[kind])
    specs = [spec for spec in registered_specs(cwd=tmp_path)[plural] if spec.plugin == "harness_plugins"]
    assert len(specs) == 1
    check_spec_metadata(specs[0])
    return specs[0]


def test_the_dataset_example_keeps_the_contract(tmp_path: Path) -> None:
    check_dataset_spec(_registered(tmp_path, "dataset", "datasets"), tmp_path / "cache")  # type: ignore[arg-type]


def test_the_augmentation_example_keeps_the_contract(tmp_path: Path) -> None:
    check_augmentation_spec(_registered(tmp_path, "augmentation", "augmentations"))  # type: ignore[arg-type]


def test_the_model_example_keeps_the_contract(tmp_path: Path) -> None:
    check_model_spec(_registered(tmp_path, "model", "models"))  # type: ignore[arg-type]


FAST = ("run", "-p", "harness.testing.fast", "--dataset", "synthetic", "--augmentation", "none",
        "--model", "fast_pass", "--model", "fast_fail")


def test_the_report_example_adds_its_table(harness_tester: HarnessTester) -> None:
    harness_tester.make_plugin(examples()["report"])
    result = harness_tester.run(*FAST, "--executor", "serial")
    assert result.ret == 1, result.stderr  # fast_fail does not beat the baseline
    assert result.run_dir is not None
    table = (result.run_dir / "tables" / "by_model.csv").read_text()
    assert table.splitlines()[0] == "model,test_accuracy" and "fast_fail,0.5" in table


def test_the_executor_example_trains_the_run(harness_tester: HarnessTester) -> None:
    harness_tester.make_plugin(examples()["executor"])
    result = harness_tester.run(*FAST, "--executor", "dots")
    assert result.stderr.count(".") >= 2
    result.assert_outcomes(passed=1, failed=1)
    assert {r["model"] for r in result.records} == {"fast_pass", "fast_fail"}


@pytest.mark.slow
def test_the_examples_train_together_for_real(harness_tester: HarnessTester) -> None:
    harness_tester.make_plugin("\n".join(examples()[kind] for kind in ("dataset", "augmentation", "model")))
    result = harness_tester.run("run", "--dataset", "squares", "--augmentation", "soft_contrast", "--model",
                                "micro_cnn", "--steps", "4", "--executor", "serial")
    assert result.ret in (0, 1), result.stderr
    (record,) = result.records
    assert record["status"] in ("passed", "failed") and record["steps"] == 4
