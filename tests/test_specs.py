"""Spec objects: what a plugin author declares is checked when the spec is made."""

from __future__ import annotations

import dataclasses

import pytest

from harness import AugmentationSpec, ModelSpec
from harness.testing import check_spec_metadata


def test_a_parameter_description_must_name_a_parameter() -> None:
    """The contract check flags a description of a parameter the spec does not have (a typo)."""
    spec = AugmentationSpec(name="a", factory=lambda params: None, params={"factor": 0.2},
                            optional_params=frozenset({"seed"}), package="mine 1.0", description="a",
                            param_descriptions={"factor": "how much", "seed": "its own seed"})
    assert spec.describe_param("factor") == "how much" and spec.describe_param("seed") == "its own seed"
    check_spec_metadata(spec)
    typo = dataclasses.replace(spec, param_descriptions={"facter": "how much"})
    with pytest.raises(AssertionError, match="param_descriptions names facter, not a parameter"):
        check_spec_metadata(typo)


def test_a_model_describes_the_trainers_parameters_unless_it_says_otherwise() -> None:
    plain = ModelSpec(name="m", factory=lambda request: None)
    assert plain.describe_param("learning_rate").startswith("Adam's learning rate")
    own = ModelSpec(name="m", factory=lambda request: None, param_descriptions={"learning_rate": "mine"})
    assert own.describe_param("learning_rate") == "mine" and own.describe_param("nothing") == ""
