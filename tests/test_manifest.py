"""The reproducibility manifest (``metadata.json``'s ``manifest``, :mod:`harness.manifest`) and the report's run
section that shows it."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from harness import manifest
from harness.errors import ExitCode

FAST = ["-p", "harness.testing.fast", "--dataset", "synthetic", "--augmentation", "none", "--epochs", "1",
        "--executor", "serial"]

#: A model with a parameter, to give it a secret with ``--set`` (the fast trainer trains any model).
SECRETIVE = '''
import harness

@harness.hookimpl
def harness_models_register(config):
    return [harness.ModelSpec(name="secretive", factory=print, description="a model with a source",
                              params={"source": "none"})]
'''


@pytest.fixture
def tester(harness_tester, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the same runtime on a machine with GPUs: the CPU
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    return harness_tester


def git(path: Path, *args: str) -> bytes:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": str(path), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    return subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True).stdout


def make_repo(path: Path) -> Path:
    git(path, "init", "-q")
    (path / "notes.txt").write_text("first\n")
    git(path, "add", "notes.txt")
    git(path, "commit", "-q", "-m", "first")
    return path


def metadata(run_dir: Path) -> dict:
    return json.loads((run_dir / "metadata.json").read_text())


def test_the_manifest_lists_software_machine_runtime_and_the_command_that_reproduces_the_run(tester) -> None:
    result = tester.run("run", *FAST, "--model", "fast_pass", "--reuse", "--seed", "3")  # a first run: no reports/
    assert result.ret == ExitCode.OK, result.stderr
    meta = metadata(result.run_dir)
    found = meta["manifest"]
    assert set(found) >= {"distributions", "python", "os", "cpu", "gpus", "runtime", "git", "reproduce",
                          "environment"}
    distributions = found["distributions"]
    assert distributions["pluggy"] == version("pluggy") and distributions["numpy"] == version("numpy")
    assert list(distributions) == sorted(distributions) and distributions["typing-extensions"]  # PEP 503 names
    from importlib.metadata import distributions as installed

    assert len(distributions) == len({d.metadata["Name"].lower().replace("_", "-") for d in installed()})
    assert found["python"]["version"].count(".") == 2 and found["cpu"] and found["os"]
    assert found["gpus"] == [] and found["runtime"] == meta["runtime"]
    assert found["git"] is None  # the tester's directory is no git working tree
    runtime = meta["runtime"]
    assert shlex.split(found["reproduce"]) == [
        "harness", "run", *FAST, "--model", "fast_pass", "--seed", "3", "--repeats", "1",
        "--threads", str(runtime["threads"]), "--backend", ",".join(runtime["backends"]), "--precision", "float32"]
    page = (result.run_dir / "report.md").read_text()
    assert f"- reproduce: {found['reproduce']}" in page.replace("\\", "")
    assert f"- installed: {len(distributions)} distributions with their versions" in page
    assert "- git commit: - (not a git working tree)" in page


def test_the_reproduce_command_runs_the_same_tasks(tester) -> None:
    first = tester.run("run", *FAST, "--model", "fast_pass", "--repeats", "2", "-p", "no:reports")
    command = shlex.split(metadata(first.run_dir)["manifest"]["reproduce"])
    again = tester.run(*command[1:])
    assert again.ret == ExitCode.OK, again.stderr
    hashes = [sorted(r["config_hash"] for r in run.records) for run in (first, again)]
    assert hashes[0] == hashes[1] and len(hashes[0]) == 2


def test_the_dirty_flag_follows_the_working_tree(tester) -> None:
    make_repo(tester.path)
    clean = tester.run("run", *FAST, "--model", "fast_pass", "-p", "no:reports")
    state = metadata(clean.run_dir)["manifest"]["git"]
    assert state == {"commit": git(tester.path, "rev-parse", "HEAD").decode().strip(), "dirty": False,
                     "diff_sha256": None}  # the run directories are untracked: not counted

    (tester.path / "notes.txt").write_text("first\nchanged\n")
    dirty = tester.run("run", *FAST, "--model", "fast_pass")
    state = metadata(dirty.run_dir)["manifest"]["git"]
    diff = git(tester.path, "diff", "HEAD", "--no-ext-diff", "--no-color", "--binary")
    assert state["dirty"] is True and state["diff_sha256"] == hashlib.sha256(diff).hexdigest()
    assert "changed" not in (dirty.run_dir / "metadata.json").read_text()  # the diff itself is never written
    assert f"(dirty: uncommitted changes, diff sha256 {state['diff_sha256'][:12]})" in \
        (dirty.run_dir / "report.md").read_text()


def test_git_state_outside_a_working_tree_and_when_git_is_missing(tmp_path, monkeypatch) -> None:
    assert manifest.git_state(tmp_path) is None
    make_repo(tmp_path)
    assert manifest.git_state(tmp_path)["dirty"] is False
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert manifest.git_state(tmp_path) is None


def test_no_secret_reaches_the_metadata_the_report_or_the_terminal(tester, monkeypatch) -> None:
    tester.make_plugin(SECRETIVE)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:CANARY@127.0.0.1:9/")
    monkeypatch.setenv("HARNESS_API_TOKEN", "CANARY")
    result = tester.run("run", *FAST, "--model", "secretive", "--set", "secretive.source=https://u:CANARY@h/x.zip")
    assert result.ret == ExitCode.OK, result.stderr
    leaks = [str(p) for p in result.run_dir.rglob("*") if p.is_file() and b"CANARY" in p.read_bytes()]
    assert leaks == [] and "CANARY" not in result.stdout + result.stderr
    found = metadata(result.run_dir)["manifest"]
    assert found["environment"]["MLFLOW_TRACKING_URI"] == "http://user:****@127.0.0.1:9/"
    assert found["environment"]["HARNESS_API_TOKEN"] == "****"
    assert "--set 'secretive.source=https://u:****@h/x.zip'" in found["reproduce"]


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "--reuse", "--model", "m"], ["run", "--model", "m"]),
    (["run", "--model", "m", "--reuse"], ["run", "--model", "m"]),
    (["run", "--reuse", "old/runs", "--model", "m"], ["run", "--model", "m"]),
    (["run", "--reuse=old", "--resume", "reports/x", "--model", "m"], ["run", "--model", "m"]),
])
def test_reuse_and_resume_are_left_out(argv, expected) -> None:
    assert manifest.without(argv, manifest.DROPPED, optional_value=True) == expected


def test_the_recorded_seeds_threads_and_backends_replace_those_given() -> None:
    runtime = {"backends": ["tensorflow", "jax"], "precisions": {"tensorflow": "float32", "jax": "mixed_bfloat16"},
               "threads": 4}
    command = manifest.reproduce(["run", "--seed=7", "--threads", "9", "--backend", "jax", "--token", "CANARY"],
                                 runtime, seed=7, repeats=3)
    assert command == ("harness run --token '****' --seed 7 --repeats 3 --threads 4 --backend tensorflow,jax")


def test_environment_records_framework_variables_only_and_masks_secrets() -> None:
    env = {"TF_NUM_INTRAOP_THREADS": "2", "TF_VAR_db": "CANARY", "HOME": "/root", "XLA_FLAGS": "--xla_cpu",
           "HARNESS_SECRET": "CANARY", "RAY_ADDRESS": "ray://u:CANARY@h:10001"}
    assert manifest.environment(env) == {"HARNESS_SECRET": "****", "RAY_ADDRESS": "ray://u:****@h:10001",
                                         "TF_NUM_INTRAOP_THREADS": "2", "XLA_FLAGS": "--xla_cpu"}
