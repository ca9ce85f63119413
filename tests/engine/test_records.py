"""Records of real runs keep the schema of :mod:`harness.record`; a trainer plugin's invalid record becomes an
error row naming the plugin."""

from __future__ import annotations

import typing

from harness.record import Record, validate

from .conftest import ENGINE_PLUGIN, SMALL, models


def test_every_field_the_engine_writes_is_documented(engine_tester) -> None:
    result = engine_tester.run("run", *SMALL, *models("tiny", "nan_loss"), "--steps", "2", "--target-accuracy", "0.1")
    fields = set(typing.get_type_hints(Record))
    for record in result.records:
        assert set(record) <= fields, f"undocumented fields: {sorted(set(record) - fields)}"
        validate(record)


BAD_TRAINER = '''
@harness.hookimpl(tryfirst=True)
def harness_combination_train(task):
    if task.model.name == "tiny":
        return {"id": task.combination_id, "seed": task.seed, "status": "passed"}  # no dataset, augmentation, ...
'''


def test_a_trainer_plugins_invalid_record_becomes_an_error_row_naming_it(engine_tester) -> None:
    engine_tester.make_plugin(ENGINE_PLUGIN + BAD_TRAINER)
    result = engine_tester.run("run", *SMALL, *models("tiny"), "--steps", "1")
    assert result.ret == 1, result.stderr
    (record,) = result.records
    assert (record["status"], record["error_kind"], record["model"]) == ("error", "plugin", "tiny")
    assert "harness_combination_train (plugin 'harness_plugins'" in record["error"]
    assert "record field 'dataset' is missing" in record["error"]
    assert record["config_hash"]  # the task's identity, from the task: --resume knows it was tried
