"""harness-mlflow against real MLflow stores: a run logged as it trains, read back with ``mlflow.search_runs``;
a run whose tracking server is down, which loses nothing and is sent later by ``harness export mlflow``.

Two small harness runs in all (a tiny CNN, two seeds, two epochs on 16x16 images), shared by the tests of
each part through module-scoped fixtures. MLflow's HTTP retries are turned off so that the unreachable
server fails at once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import __version__
from harness.store import RunStore
from harness.testing import HarnessTester, RunResult

mlflow = pytest.importorskip("mlflow", reason="needs mlflow-skinny: pip install -e plugins/mlflow")

#: This package's source (on the path in this process through conftest.py), for a subprocess.
PLUGIN_SRC = Path(__file__).resolve().parents[1] / "src"

TINY_MODEL = '''
import harness

def build(request):
    import keras
    return keras.Sequential([keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(request.num_classes)])

@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="tiny", factory=build, description="a tiny CNN", input_range="0-1",
                              params={"learning_rate": 0.01}),
            harness.ModelSpec(name="big", factory=build, description="skipped here", min_image_size=64)]
'''
RUN = ("-p", "harness_mlflow", "run", "--dataset", "synthetic", "--augmentation", "none", "--model", "tiny",
       "--repeats", "2", "--epochs", "2", "--set", "synthetic.image_size=[16,16]",
       "--set", "synthetic.train_per_class=16", "--set", "synthetic.validation_per_class=8",
       "--set", "synthetic.test_per_class=16")


@pytest.fixture(scope="module")
def tester(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessTester]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        tester = HarnessTester(tmp_path_factory.mktemp("mlflow"), monkeypatch)
        # the stores hold copies of the run's metadata.json: outside the tester's folder, where it finds runs
        tester.stores = tmp_path_factory.mktemp("stores")  # type: ignore[attr-defined]
        tester.make_plugin(TINY_MODEL)
        # what the plugin sets in this process (os.environ.setdefault), restored after the module's tests
        for name in ("MLFLOW_ALLOW_FILE_STORE", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"):
            monkeypatch.setenv(name, "unset")
            monkeypatch.delenv(name)
        yield tester


def store(path: Path) -> str:
    return path.resolve().as_uri()


def runs_of(uri: str, experiment: str) -> Any:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment])


def split(runs: Any) -> tuple[Any, Any]:
    """The parent run and the task runs."""
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert len(parents) == 1, parents
    return parents.iloc[0], children


def check_task_runs(uri: str, run: RunResult) -> None:
    """Every record of the run is an MLflow run with its parameters, per-epoch metrics, outcome and status,
    under one parent run that holds the report."""
    from mlflow import MlflowClient

    records = {f"{r['id']}[seed={r['seed']},{r['backend']}]": r for r in run.records if r["status"] != "skipped"}
    parent, children = split(runs_of(uri, run.run_dir.name))
    children = children[children["tags.status"] != "skipped"]
    assert sorted(children["tags.mlflow.runName"]) == sorted(records)
    client = MlflowClient(uri)
    for _, row in children.iterrows():
        record = records[row["tags.mlflow.runName"]]
        assert row["tags.mlflow.parentRunId"] == parent["run_id"]
        assert row["status"] == "FINISHED" and row["tags.status"] == record["status"]
        assert row["tags.combination_id"] == "synthetic-none-tiny" and row["tags.harness_version"] == __version__
        assert row["tags.config_hash"] == record["config_hash"]
        for name in ("p_value", "images_per_second", "train_seconds"):
            assert row[f"metrics.{name}"] == pytest.approx(record[name]), name
        assert (row["params.dataset"], row["params.model"], row["params.seed"]) == ("synthetic", "tiny",
                                                                                   str(record["seed"]))
        assert row["params.model.learning_rate"] == "0.01" and row["params.budget.epochs"] == "2"
        assert row["params.backend"] == record["backend"] and row["params.precision"] == record["precision"]
        assert row["metrics.test_accuracy"] == pytest.approx(record["test_accuracy"])
        assert row["metrics.baseline_accuracy"] == pytest.approx(record["baseline_accuracy"])
        assert row["metrics.lift_points"] == pytest.approx(100 * (record["test_accuracy"] -
                                                                  record["baseline_accuracy"]))
        for name in ("loss", "accuracy", "val_accuracy"):
            history = client.get_metric_history(row["run_id"], name)
            assert [(m.step, m.value) for m in history] == [
                (e["epoch"], pytest.approx(e[name])) for e in record["history"]], name
        seconds = client.get_metric_history(row["run_id"], "epoch_seconds")
        assert [m.step for m in seconds] == [1, 2]
        # the task's per-image predictions, beside its numbers
        assert [a.path for a in client.list_artifacts(row["run_id"], "predictions")] == [record["predictions"]]
    artifacts = {a.path for a in client.list_artifacts(parent["run_id"], "report")}
    assert {"report/report.html", "report/records.jsonl", "report/metadata.json"} <= artifacts
    assert parent["status"] == "FINISHED" and parent["tags.mlflow.runName"] == run.run_dir.name


# -------------------------------------------------------------------------------------------------
# Logged as the run goes
# -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logged(tester: HarnessTester) -> tuple[RunResult, str]:
    target = tester.stores / "store"
    run = tester.run(*RUN, "--model", "big", "--mlflow", str(target))  # big: skipped, not trained
    assert run.ret in (0, 1), run.stderr
    return run, store(target)


def test_each_task_is_an_mlflow_run_with_its_parameters_metrics_and_status(logged: tuple[RunResult, str]) -> None:
    run, uri = logged
    assert sorted(r["status"] == "skipped" for r in run.records) == [False, False, True]
    check_task_runs(uri, run)
    assert "mlflow: 3 task runs logged to" in run.stdout and "harness: mlflow" not in run.stderr


def test_a_skipped_combination_is_a_run_that_says_why(logged: tuple[RunResult, str]) -> None:
    run, uri = logged
    runs = runs_of(uri, run.run_dir.name)
    (skipped,) = runs[runs["tags.status"] == "skipped"].to_dict("records")
    assert skipped["tags.mlflow.runName"] == "synthetic-none-big[seed=1]"
    assert "needs images of at least 64px" in skipped["tags.error"]


def test_what_was_sent_is_remembered_and_not_sent_twice(logged: tuple[RunResult, str], tester: HarnessTester) -> None:
    run, uri = logged
    state = json.loads((run.run_dir / "mlflow.json").read_text())
    assert state["last"] == uri and len(state["targets"][uri]["runs"]) == 3 and state["targets"][uri]["report"]
    again = tester.run("-p", "harness_mlflow", "export", "mlflow", str(run.run_dir))
    assert again.ret == 0 and "nothing to send" in again.stdout, again.stderr
    assert len(runs_of(uri, run.run_dir.name)) == 4  # the parent, two tasks, the skipped combination


# -------------------------------------------------------------------------------------------------
# A tracking server that is down
# -------------------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def unreachable(tester: HarnessTester) -> tuple[RunResult, str]:
    uri = f"http://127.0.0.1:{closed_port()}"
    run = tester.run(*RUN, "--mlflow", uri, "--mlflow-experiment", "down")
    return run, uri


def test_a_server_that_is_down_costs_nothing_but_a_warning(unreachable: tuple[RunResult, str]) -> None:
    run, uri = unreachable
    assert run.ret in (0, 1), run.stderr
    assert [r["status"] in ("passed", "failed") for r in run.records] == [True, True]
    warnings = [line for line in run.stderr.splitlines() if line.startswith("harness: mlflow:")]
    assert len(warnings) == 1 and uri in warnings[0] and "harness export mlflow" in warnings[0], run.stderr
    assert "then it failed" in run.stdout
    state = json.loads((run.run_dir / "mlflow.json").read_text())
    assert state["last"] == uri and state["targets"][uri]["runs"] == {} and state["targets"][uri]["error"]


def test_export_sends_the_run_later(unreachable: tuple[RunResult, str], tester: HarnessTester) -> None:
    run, uri = unreachable
    still_down = tester.run("-p", "harness_mlflow", "export", "mlflow", str(run.run_dir))  # the URI it used
    assert still_down.ret == 1 and uri in still_down.stderr and len(still_down.stderr.splitlines()) == 1
    target = store(tester.stores / "later")
    sent = tester.run("-p", "harness_mlflow", "export", "mlflow", str(run.run_dir), "--tracking-uri", target,
                      "--experiment", run.run_dir.name)
    assert sent.ret == 0 and "sent 2 task runs and the report" in sent.stdout, sent.stderr
    check_task_runs(target, run)


def test_export_refuses_a_folder_that_is_not_a_run(tester: HarnessTester) -> None:
    result = tester.run("-p", "harness_mlflow", "export", "mlflow", "nowhere")
    assert result.ret == 4 and "nowhere" in result.stderr and "not a harness run directory" in result.stderr


def test_export_refuses_a_run_in_progress(logged: tuple[RunResult, str], tester: HarnessTester) -> None:
    run, _ = logged
    running = RunStore(run.run_dir)
    running.lock()  # as the harness process that runs it holds it
    try:
        result = tester.run("-p", "harness_mlflow", "export", "mlflow", str(run.run_dir))
    finally:
        running.close()
    assert result.ret == 4 and "in use by another harness process" in result.stderr


def test_the_plugin_imports_mlflow_only_to_log() -> None:
    code = ("import sys\nfrom harness.cli import main\n"
            "main(['-p', 'harness_mlflow', 'list', 'executors'])\n"
            "try:\n    main(['-p', 'harness_mlflow', 'export', 'mlflow', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'mlflow' not in sys.modules, 'mlflow imported'\n")
    env = {**os.environ, "HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--tracking-uri" in out.stdout


def test_a_run_begun_and_not_completed_is_replaced(logged: tuple[RunResult, str], tester: HarnessTester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The server went away between creating a task's run and completing it: export deletes that run and sends
    the task again, so MLflow ends with one run per record."""
    import shutil

    from mlflow import MlflowClient

    run, _ = logged
    copy = tester.stores / "copy" / run.run_dir.name
    shutil.copytree(run.run_dir, copy, ignore=shutil.ignore_patterns("mlflow.json", ".lock"))
    uri = store(tester.stores / "retry")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # as the plugin does for a file store
    client = MlflowClient(uri)
    half = client.create_run(client.create_experiment(copy.name), run_name="half-sent")
    first = next(r for r in run.records if r["status"] != "skipped")
    key = f"{first['config_hash']}@{first['finished_at']}"
    (copy / "mlflow.json").write_text(json.dumps({"last": uri, "targets": {uri: {
        "experiment": copy.name, "begun": {key: half.info.run_id}}}}))
    result = tester.run("-p", "harness_mlflow", "export", "mlflow", str(copy))
    assert result.ret == 0 and "sent 3 task runs and the report" in result.stdout, result.stderr
    assert client.get_run(half.info.run_id).info.lifecycle_stage == "deleted"
    assert len(runs_of(uri, copy.name)) == 4


@pytest.mark.parametrize(("value", "env", "expected"), [
    (True, None, "sqlite:////work/mlflow.db"),           # --mlflow alone: ./mlflow.db of the working directory
    (True, "http://tracker:5000", "http://tracker:5000"),  # ... unless MLFLOW_TRACKING_URI says where
    ("runs/ml", "http://tracker:5000", "file:///work/runs/ml"),  # a path given wins, made absolute
    ("file:./ml", None, "file:///work/ml"),
    ("file:///abs/ml", None, "file:///abs/ml"),
    ("sqlite:///mlflow.db", None, "sqlite:///mlflow.db"),
    ("databricks", None, "databricks"),
])
def test_where_runs_are_logged(value: object, env: str | None, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness_mlflow.sender import resolve_uri

    if env is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env)
    assert resolve_uri(value, Path("/work")) == expected


def test_an_experiment_without_mlflow_is_named_as_ignored(tester: HarnessTester) -> None:
    """``--mlflow-experiment`` alone logs nothing: a warning says so, and the run goes on."""
    result = tester.run(*RUN, "--collect-only", "--mlflow-experiment", "mine")
    assert result.ret == 0, result.stderr
    assert ("harness: warning: --mlflow-experiment 'mine' is ignored: nothing is logged to MLflow without "
            "--mlflow [TRACKING_URI]") in result.stderr
    assert "warning" not in tester.run(*RUN, "--collect-only").stderr
