"""``--mlflow`` alone logs to a store that MLflow's own tools open without special settings: ``mlflow.db``
(SQLite) in the working directory, read back here by ``mlflow.search_runs`` with ``MLFLOW_ALLOW_FILE_STORE``
unset. A file store, when given, is still written, and the summary says how to open it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow", reason="needs mlflow-skinny: pip install -e plugins/mlflow")

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = Path(__file__).resolve().parents[3]
FAST = ("-p", "harness.testing.fast", "-p", "harness_mlflow", "run", "--dataset", "synthetic", "--augmentation",
        "none", "--model", "fast_pass", "--model", "fast_fail", "-p", "no:reports")


def _harness(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("MLFLOW_") or key.startswith("MLFLOW_HTTP")}
    paths = [str(ROOT), str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]  # (an older MLflow on the path too)
    env.update(HARNESS_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONPATH=os.pathsep.join(p for p in paths if p))
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_mlflow_alone_logs_to_an_sqlite_store_that_mlflow_opens_as_it_is(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    done = _harness(tmp_path, *FAST, "--mlflow", "--mlflow-experiment", "default-store")
    assert done.returncode == 1, done.stderr  # one passed, one failed
    uri = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert f"mlflow: 2 task runs logged to {uri}" in done.stdout, done.stdout + done.stderr
    assert f"open it with mlflow.set_tracking_uri('{uri}')" in done.stdout
    assert (tmp_path / "mlflow.db").is_file()  # (MLflow keeps artifacts in ./mlruns beside it, as its own default)

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["default-store"])
    tasks = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert sorted(tasks["params.model"]) == ["fast_fail", "fast_pass"]


def test_the_summary_says_how_to_open_a_file_store() -> None:
    from harness_mlflow.sender import how_to_open

    assert how_to_open("file:///w/mlruns") == ("MLflow 3 opens this file store only with "
                                               "MLFLOW_ALLOW_FILE_STORE=true: MLFLOW_ALLOW_FILE_STORE=true mlflow ui "
                                               "--backend-store-uri file:///w/mlruns")
    assert "u:****@" in how_to_open("http://u:secret@h/")


def test_an_sql_store_without_sqlalchemy_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from harness_mlflow.sender import check_store

    from harness.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "alembic" else real(name, *a))
    with pytest.raises(UsageError, match="needs alembic: python3 -m pip install alembic"):
        check_store("sqlite:////w/mlflow.db")
    check_store("http://tracker:5000")  # no SQL: nothing needed
