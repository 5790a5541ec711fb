"""TrainConfig validation: every bad value is refused with field, value and rule."""

import math

import pytest

from esmaml_core.config import ConfigError, TrainConfig


@pytest.mark.parametrize(
    "field, value",
    [
        ("sigma", 0.0),
        ("sigma", -0.1),
        ("sigma", math.nan),
        ("lr", math.inf),
        ("alpha", -1.0),
        ("adaptation_sigma", 0),
        ("queries", 0),
        ("perturbations", 0),
        ("iterations", -1),
        ("horizon", 0),
        ("queries", 2.5),
        ("task", "moon"),
        ("method", "reptile"),
        ("operator", "newton"),
        ("sampler", "sobol"),
        ("optimizer", "lbfgs"),
        ("fitness", "raw"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_them(field, value):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**{field: value}).validate()
    assert error.value.field == field
    assert field in str(error.value) and repr(value) in str(error.value)


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="differentiable"):
        TrainConfig(method="es_maml_first_order", operator="hill_climb").validate()
    with pytest.raises(ConfigError, match="Hessian"):
        TrainConfig(hessian=True).validate()
    with pytest.raises(ConfigError, match="es_grad"):
        TrainConfig(method="es_maml_first_order", operator="dpp", hessian=True).validate()
    with pytest.raises(ConfigError, match="eval_tasks"):
        TrainConfig(eval_tasks=2, probe_tasks=3).validate()
    with pytest.raises(ConfigError, match="hidden"):
        TrainConfig(policy="mlp", hidden=()).validate()
    with pytest.raises(ConfigError, match="1024"):
        TrainConfig(policy="mlp", hidden=(64, 100_000)).validate()
    TrainConfig(policy="mlp", hidden=(1024,)).validate()


def test_round_trip_and_unknown_keys():
    config = TrainConfig(policy="mlp", hidden=(8, 4), seed=3)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.hidden_sizes == (8, 4) and TrainConfig().hidden_sizes == ()
    with pytest.raises(ConfigError, match="not a config field"):
        TrainConfig.from_dict({"sigmaa": 0.1})
