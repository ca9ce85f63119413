"""Secrets never reach what harness prints or writes: a password in a tracking URI, a token in a query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.redact import redact, redact_argv, redact_value
from tests.faults.conftest import run_harness

FAST = ("run", "-p", "harness.testing.fast", "-p", "harness_mlflow", "--dataset", "synthetic", "--model",
        "fast_pass", "--augmentation", "none", "--output", "out")


@pytest.mark.parametrize(("text", "shown"), [
    ("http://user:CANARY@127.0.0.1:9/", "http://user:****@127.0.0.1:9/"),
    ("https://CANARY@example.com/a", "https://****@example.com/a"),
    ("postgresql://u:CANARY@db/x?sslmode=require", "postgresql://u:****@db/x?sslmode=require"),
    ("https://h/f.zip?token=CANARY&x=1", "https://h/f.zip?token=****&x=1"),
    ("https://h/f?X-Amz-Signature=CANARY&X-Amz-Credential=CANARY", "https://h/f?X-Amz-Signature=****&X-Amz-Credential=****"),
    ("failed: GET https://h/f?sig=CANARY (403)", "failed: GET https://h/f?sig=**** (403)"),
    ("api_key", "api_key"),
    ("mail me at a@b.org", "mail me at a@b.org"),
    ("file:///home/u/mlruns", "file:///home/u/mlruns"),
])
def test_redact_masks_the_credentials_of_every_uri_in_a_text(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redact_argv_masks_secret_options_and_uris_but_not_keywords() -> None:
    argv = ["run", "--mlflow", "http://u:CANARY@h/", "--api-key", "CANARY", "--token=CANARY", "-k", "cnn",
            "--keyword", "cnn"]
    assert redact_argv(argv) == ["run", "--mlflow", "http://u:****@h/", "--api-key", "****", "--token=****", "-k",
                                 "cnn", "--keyword", "cnn"]
    assert redact_value({"argv": argv, "error": "at http://u:CANARY@h/"})["error"] == "at http://u:****@h/"
    assert "CANARY" not in json.dumps(redact_value({"argv": argv, "resumes": [{"argv": argv}]}))


def _every_file_and_output(root: Path, *outputs: str) -> list[str]:
    """The names of the files under ``root`` (and of the outputs) that contain ``CANARY``."""
    found = [str(path) for path in root.rglob("*") if path.is_file() and b"CANARY" in path.read_bytes()]
    return found + [f"output {i}" for i, text in enumerate(outputs) if "CANARY" in text]


@pytest.mark.slow
def test_a_password_in_the_mlflow_uri_reaches_no_file_and_no_output(tmp_path: Path) -> None:
    uri = "http://user:CANARY@127.0.0.1:9/?token=CANARY"
    done = run_harness(tmp_path, *FAST, "--mlflow", uri, "-v")
    assert done.returncode == 0, done.stderr
    assert "mlflow: 0 task runs logged to http://user:****@127.0.0.1:9/?token=****" in done.stdout
    assert _every_file_and_output(tmp_path, done.stdout, done.stderr) == []
    (run_dir,) = (tmp_path / "out").iterdir()
    assert {"report.html", "report.md", "metadata.json", "mlflow.json"} <= {p.name for p in run_dir.iterdir()}

    # a resume needs the secret again (it is not stored), and takes it when given
    again = run_harness(tmp_path, "run", "--resume", str(run_dir))
    assert again.returncode == 4
    assert "--mlflow http://user:****@127.0.0.1:9/?token=**** held a secret" in again.stderr
    again = run_harness(tmp_path, "run", "--resume", str(run_dir), "--mlflow", uri)
    assert again.returncode == 0, again.stderr
    assert _every_file_and_output(tmp_path, again.stdout, again.stderr) == []

    # the export command does not find the credentials in mlflow.json either, and says how to give them
    export = run_harness(tmp_path, "-p", "harness_mlflow", "export", "mlflow", str(run_dir))
    assert export.returncode == 4
    assert "give the URI again with --tracking-uri" in export.stderr
    assert "CANARY" not in export.stderr + export.stdout


def test_an_error_line_quotes_no_secret(tmp_path: Path) -> None:
    done = run_harness(tmp_path, "run", "--workers", "http://u:CANARY@h/x")
    assert done.returncode == 4
    assert "CANARY" not in done.stderr and "u:****@h" in done.stderr
