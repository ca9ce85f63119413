"""``harness run --reuse [DIR]``: tasks that earlier runs finished with the same configuration and runtime are
copied (records and predictions), the rest trained; with the fast trainer."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import ExitCode
from harness.reuse import FIELD
from harness.store import RunStore

FAST = ["-p", "harness.testing.fast", "--dataset", "synthetic", "--augmentation", "none", "--epochs", "1"]
SERIAL = [*FAST, "--executor", "serial", "-p", "no:reports"]

#: Notes each task that trains (in whichever process trains it) in ``trained.txt``.
TRAINED = '''
import harness

@harness.hookimpl(wrapper=True)
def harness_combination_train(task):
    with open("trained.txt", "a") as handle:
        handle.write(task.id + "\\n")
    return (yield)
'''


@pytest.fixture
def tester(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the same runtime on a machine with GPUs: the CPU
    harness_tester.make_plugin(TRAINED)
    return harness_tester


def trained(tester) -> list[str]:
    """The tasks trained since the last call."""
    path = tester.path / "trained.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    path.unlink(missing_ok=True)
    return sorted(lines)


def by_task(run_dir: Path) -> dict[str, dict]:
    return {f"{r['model']}/{r['seed']}": r for r in RunStore(run_dir).records()}


def test_one_more_model_with_reuse_trains_only_its_tasks_and_the_report_covers_all(tester) -> None:
    first = tester.run("run", *FAST, "--executor", "serial", "--model", "fast_pass", "--repeats", "2")
    assert first.ret == ExitCode.OK, first.stdout + first.stderr
    assert trained(tester) == ["synthetic-none-fast_pass[seed=1]", "synthetic-none-fast_pass[seed=2]"]

    second = tester.run("run", *FAST, "--executor", "process", "--model", "fast_pass", "--model", "fast_fail",
                        "--repeats", "2", "--reuse")
    assert second.ret == ExitCode.FAILED, second.stdout + second.stderr  # fast_fail fails
    assert second.run_dir != first.run_dir
    assert trained(tester) == ["synthetic-none-fast_fail[seed=1]", "synthetic-none-fast_fail[seed=2]"]
    assert f"training 2 tasks on the CPU (no GPU visible), precision float32 (2 reused from {first.run_dir.name})" \
        in second.stdout

    earlier, records = by_task(first.run_dir), by_task(second.run_dir)
    assert sorted(records) == ["fast_fail/1", "fast_fail/2", "fast_pass/1", "fast_pass/2"]
    for key in ("fast_pass/1", "fast_pass/2"):
        reused = records[key]
        assert reused[FIELD] == f"reports/{first.run_dir.name}"
        assert {k: v for k, v in reused.items() if k != FIELD} == earlier[key]  # timings kept, as trained there
        copied = second.run_dir / reused["predictions"]
        assert copied.read_bytes() == (first.run_dir / earlier[key]["predictions"]).read_bytes()
    for key in ("fast_fail/1", "fast_fail/2"):
        assert FIELD not in records[key]
        assert (second.run_dir / records[key]["predictions"]).is_file()
    assert len(list((second.run_dir / "predictions").iterdir())) == 4

    summary = [line for line in second.stdout.splitlines() if line.startswith("PASSED ")]
    assert len(summary) == 2 and all(f"(reused from {first.run_dir.name})" in line for line in summary)
    results = pd.read_csv(second.run_dir / "results.csv")
    assert sorted(results["model"]) == ["fast_fail", "fast_fail", "fast_pass", "fast_pass"]
    per_seed = pd.read_csv(second.run_dir / "tables" / "per_seed.csv")
    marks = dict(zip(per_seed["model"] + "/" + per_seed["seed"].astype(str), per_seed["reused_from"]))
    assert marks["fast_pass/1"] == marks["fast_pass/2"] == first.run_dir.name
    assert pd.isna(marks["fast_fail/1"]) and pd.isna(marks["fast_fail/2"])
    page = (second.run_dir / "report.md").read_text()
    assert "synthetic-none-fast_pass" in page and "synthetic-none-fast_fail" in page
    assert "2 of the 4 tasks were not trained by this run" in page
    assert json.loads((second.run_dir / "metadata.json").read_text())["reused"] == {
        "tasks": 2, "from": [f"reports/{first.run_dir.name}"]}
    assert "reused_from" not in pd.read_csv(first.run_dir / "tables" / "per_seed.csv").columns  # no empty column


def test_errored_tasks_are_trained_again_and_a_reused_record_keeps_its_first_run(tester) -> None:
    first = tester.run("run", *SERIAL, "--model", "fast_pass", "--model", "fast_error")
    trained(tester)
    second = tester.run("run", *SERIAL, "--model", "fast_pass", "--model", "fast_error", "--reuse", "reports")
    assert trained(tester) == ["synthetic-none-fast_error[seed=1]"]  # an error is no result: trained again
    third = tester.run("run", *SERIAL, "--model", "fast_pass", "--reuse", str(second.run_dir))  # one run as DIR
    assert trained(tester) == []
    assert by_task(second.run_dir)["fast_pass/1"][FIELD] == by_task(third.run_dir)["fast_pass/1"][FIELD] \
        == f"reports/{first.run_dir.name}"


def _other_keras(metadata: dict) -> None:
    metadata["keras"] = "0.0.1"


def _on_a_gpu(metadata: dict) -> None:
    metadata["device_details"] = [{"kind": "gpu", "name": "NVIDIA H100 80GB HBM3"}]
    metadata["runtime"]["gpus"] = [0]


def _metadata_lost(metadata: dict) -> None:
    metadata.clear()


@pytest.mark.parametrize("change", [_other_keras, _on_a_gpu, _metadata_lost])
def test_records_of_another_runtime_are_not_reused(tester, change) -> None:
    first = tester.run("run", *SERIAL, "--model", "fast_pass")
    path = first.run_dir / "metadata.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    if metadata:
        path.write_text(json.dumps(metadata))
    else:
        path.unlink()
    trained(tester)
    second = tester.run("run", *SERIAL, "--model", "fast_pass", "--reuse")
    assert second.ret == ExitCode.OK, second.stderr
    assert trained(tester) == ["synthetic-none-fast_pass[seed=1]"]
    assert FIELD not in RunStore(second.run_dir).records()[0]
    assert "reused" not in second.stdout


def test_other_threads_are_another_configuration(tester) -> None:
    tester.run("run", *SERIAL, "--model", "fast_pass", "--threads", "1")
    trained(tester)
    tester.run("run", *SERIAL, "--model", "fast_pass", "--threads", "2", "--reuse")
    assert trained(tester) == ["synthetic-none-fast_pass[seed=1]"]


def test_a_damaged_run_gives_what_it_still_holds(tester) -> None:
    first = tester.run("run", *SERIAL, "--model", "fast_pass", "--repeats", "3")
    lines = (first.run_dir / "records.jsonl").read_text().splitlines(keepends=True)
    # the second seed's line corrupt, a torn last line after the third
    (first.run_dir / "records.jsonl").write_text(lines[0] + "{not json\n" + lines[2] + '{"id": "synth')
    trained(tester)
    tester.run("run", *SERIAL, "--model", "fast_pass", "--repeats", "3", "--reuse")
    assert trained(tester) == ["synthetic-none-fast_pass[seed=2]"]


def test_a_resumed_run_takes_what_it_lacks_from_other_runs(tester) -> None:
    other = tester.run("run", *SERIAL, "--model", "fast_pass")
    stopped = tester.run("run", *SERIAL, "--model", "fast_pass", "--model", "fast_fail")
    records = stopped.run_dir / "records.jsonl"  # as if it had stopped before its fast_pass task
    records.write_text("".join(line for line in records.read_text().splitlines(keepends=True)
                               if '"fast_pass"' not in line))
    trained(tester)
    resumed = tester.run("run", "--resume", str(stopped.run_dir), "--reuse")
    assert resumed.ret == ExitCode.FAILED, resumed.stderr
    assert trained(tester) == []
    assert "training 0 tasks" in resumed.stdout and f"(1 reused from {other.run_dir.name})" in resumed.stdout
    assert by_task(stopped.run_dir)["fast_pass/1"][FIELD] == f"reports/{other.run_dir.name}"


def test_a_missing_folder_is_a_usage_error_naming_it(tester) -> None:
    result = tester.run("run", *SERIAL, "--model", "fast_pass", "--reuse", "nowhere")
    assert result.ret == ExitCode.USAGE_ERROR == 4
    assert result.stderr.splitlines() == [
        "harness: error: --reuse nowhere: no such directory (give a folder of run directories, or one run)"]
    assert not (tester.path / "reports").exists()  # no run directory made
    assert trained(tester) == []


def test_a_record_whose_predictions_file_is_lost_is_trained_again(tester) -> None:
    first = tester.run("run", *SERIAL, "--model", "fast_pass", "--repeats", "2")
    (first.run_dir / by_task(first.run_dir)["fast_pass/2"]["predictions"]).unlink()
    trained(tester)
    second = tester.run("run", *SERIAL, "--model", "fast_pass", "--repeats", "2", "--reuse")
    assert trained(tester) == ["synthetic-none-fast_pass[seed=2]"]
    assert all((second.run_dir / r["predictions"]).is_file() for r in RunStore(second.run_dir).records())


def test_a_folder_whose_files_changed_is_trained_again(tester) -> None:
    from tests.faults.conftest import write_png

    for name, value in (("cats", 40), ("dogs", 210)):
        for index in range(10):
            write_png(tester.path / "pics" / name / f"{index}.png", value + index)
    tester.make_config('''
        plugins = ["harness_vision.datasets"]

        [datasets.pics]
        plugin = "image_folder"
        path = "pics"
        image_size = [16, 16]
    ''')
    pics = ["run", "-p", "harness.testing.fast", "--dataset", "pics", "--augmentation", "none", "--model",
            "fast_pass", "--executor", "serial", "-p", "no:reports"]
    tester.run(*pics)
    assert trained(tester) == ["pics-none-fast_pass[seed=1]"]
    tester.run(*pics, "--reuse")
    assert trained(tester) == []  # the same files
    write_png(tester.path / "pics" / "cats" / "new.png", 45)
    again = tester.run(*pics, "--reuse")
    assert trained(tester) == ["pics-none-fast_pass[seed=1]"]  # the same parameters, other files
    assert "reused" not in again.stdout
