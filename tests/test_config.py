"""TrainConfig: every option declared once, every bad value refused with field, value and rule."""

import dataclasses
import json
import math

import pytest

from esmaml_core.cli import build_parser, flag, given_config_values, main, switch, train_command
from esmaml_core.config import OPTIONS, ConfigError, Option, TrainConfig


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
    with pytest.raises(ConfigError, match="only es_maml_first_order reads it"):
        TrainConfig(hessian=True).validate()
    with pytest.raises(ConfigError, match="only with operator es_grad"):
        TrainConfig(method="es_maml_first_order", operator="dpp", hessian=True).validate()
    with pytest.raises(ConfigError, match="eval_tasks"):
        TrainConfig(eval_tasks=2, probe_tasks=3).validate()
    with pytest.raises(ConfigError, match="hidden"):
        TrainConfig(policy="mlp", hidden=()).validate()
    with pytest.raises(ConfigError, match="1024"):
        TrainConfig(policy="mlp", hidden=(64, 100_000)).validate()
    TrainConfig(policy="mlp", hidden=(1024,)).validate()


@pytest.mark.parametrize(
    "values, field",
    [
        ({"method": "pg_maml", "sigma": 0.5}, "sigma"),  # ES-only with PG-MAML
        ({"method": "pg_maml", "operator": "es_grad"}, "operator"),
        ({"method": "es_maml", "inner_steps": 2}, "inner_steps"),  # PG-only with ES-MAML
        ({"method": "es_maml", "task_batch": 5}, "task_batch"),  # zero-order ES-MAML: one task per direction
        ({"operator": "hill_climb", "alpha": 0.5}, "alpha"),  # hill climbing has no step size
        ({"policy": "linear", "hidden": (8,)}, "hidden"),
        ({"workers": 4}, "workers"),  # the in-process executor has no workers
        ({"ray_address": "auto"}, "ray_address"),
    ],
)
def test_a_field_the_run_would_not_read_is_refused_not_ignored(values, field):
    with pytest.raises(ConfigError) as error:
        TrainConfig.from_given(values)
    assert error.value.field == field and "only" in error.value.allowed


def test_given_fields_are_refused_even_at_their_default_value():
    """``from_given`` (the CLI) refuses what the user typed; ``validate`` only what differs from the default."""
    TrainConfig(method="pg_maml", sigma=0.1).validate()
    with pytest.raises(ConfigError, match="sigma"):
        TrainConfig.from_given({"method": "pg_maml", "sigma": 0.1})


def test_round_trip_and_unknown_keys():
    config = TrainConfig(policy="mlp", hidden=(8, 4), seed=3)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.hidden_sizes == (8, 4) and TrainConfig().hidden_sizes == ()
    with pytest.raises(ConfigError, match="not a config field"):
        TrainConfig.from_dict({"sigmaa": 0.1})
    for not_an_object in ([], "four_corner", 3, None):
        with pytest.raises(ConfigError, match="JSON object"):
            TrainConfig.from_dict(not_an_object)


def wrong_type_value(declared: Option) -> object:
    return {"choice": "no-such-name", "bool": "yes", "int": 2.5, "float": "fast", "sizes": (0,), "text": ""}[
        declared.kind
    ]


STRUCTURAL = ("task", "method", "policy", "operator", "executor", "probe_tasks")  # they change what else applies


def changed_value(declared: Option, value: object) -> object:
    if declared.kind == "choice":
        return next(choice for choice in declared.choices if choice != value)
    if declared.kind == "bool":
        return not value
    if declared.kind == "int":
        return (value or 1) + 1
    if declared.kind == "float":  # a step up, or down where that would pass the maximum
        return value + 0.5 if declared.maximum is None or value + 0.5 <= declared.maximum else value / 2
    return (7, 5) if declared.kind == "sizes" else "auto"


def example_config(name: str) -> TrainConfig:
    """A valid config in which field ``name`` applies and, unless it is structural, is off its default."""
    declared = OPTIONS[name]
    values = {"method": declared.methods[0]} if declared.methods else {}
    values.update({other: allowed[0] for other, allowed in declared.when})
    if name == "hessian":
        values["operator"] = "es_grad"
    config = TrainConfig.for_method(**values)
    if name not in STRUCTURAL:
        config = dataclasses.replace(config, **{name: changed_value(declared, getattr(config, name))})
    return config.validate()


@pytest.mark.parametrize("name", list(OPTIONS))
def test_every_declared_option_reaches_the_cli_validation_and_the_saved_config(name, capsys):
    """One declaration per option: it is a `train` option with its help, validate() checks it,
    the run's config.json keeps it, and the recorded train command gives it back."""
    declared = OPTIONS[name]
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, also at hyphens
    default = TrainConfig.__dataclass_fields__[name].default
    assert (switch(name, default) if declared.kind == "bool" else flag(name)) in help_text
    help_words = "".join(declared.help.split())
    assert help_words in help_text
    if declared.kind == "bool":  # the switch's help says which way it flips its field
        assert ("switchoff(onbydefault):" if default else f"{help_words}(offbydefault)") in help_text

    with pytest.raises(ConfigError) as error:
        dataclasses.replace(
            TrainConfig.for_method(method=(declared.methods or ["es_maml"])[0]), **{name: wrong_type_value(declared)}
        ).validate()
    assert error.value.field == name

    config = example_config(name)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    if not declared.execution:
        command = train_command(config, "out").split()[4:]
        parsed = given_config_values(build_parser().parse_args(["train", *command]))
        assert TrainConfig.from_given(parsed) == config
