"""The Train form's rules, generated from the option declarations."""

import pytest

from esmaml_core.config import ConfigError, TrainConfig
from esmaml_core.form import build_config, choices, parse_hidden_sizes, shown_fields


def test_hidden_sizes_parse_or_name_the_field():
    assert parse_hidden_sizes(" 64, 32 ") == (64, 32)
    for text in ("", "64,", "a, 3", "-4", "3.5"):
        with pytest.raises(ConfigError) as error:
            parse_hidden_sizes(text)
        assert error.value.field == "hidden"


def fields_for(method: str, operator: str = "hill_climb", policy: str = "linear") -> tuple[str, ...]:
    return shown_fields({"task": "four_corner", "method": method, "operator": operator, "policy": policy})


def test_form_fields_follow_the_method():
    assert "hessian" not in fields_for("es_maml")
    assert "hessian" in fields_for("es_maml_first_order", "es_grad")
    assert "alpha" in fields_for("es_maml", "es_grad")
    assert "alpha" not in fields_for("es_maml", "hill_climb")
    assert "hessian" not in fields_for("es_maml_first_order", "dpp")
    assert {"inner_steps", "init_log_std", "first_order", "alpha"} <= set(fields_for("pg_maml"))
    assert not {"operator", "sigma", "perturbations", "sampler"} & set(fields_for("pg_maml"))
    assert "hidden" in fields_for("es_maml", policy="mlp") and "hidden" not in fields_for("es_maml")
    assert not {"executor", "workers", "probe_tasks"} & set(fields_for("es_maml"))  # not form fields
    config = build_config({"method": "es_maml_first_order", "operator": "dpp", "hessian": True})
    assert config.operator == "dpp" and not config.hessian  # a box left ticked does not fail the form
    assert choices("operator", "es_maml") == ("es_grad", "hill_climb", "dpp")
    assert "hill_climb" not in choices("operator", "es_maml_first_order")


def test_build_config_drops_what_the_method_ignores_and_validates():
    config = build_config(dict(method="es_maml", operator="hill_climb", hessian=True, alpha=0.5, hidden=(8,)))
    assert not config.hessian and config.alpha == TrainConfig.alpha and config.hidden == TrainConfig.hidden
    assert build_config(dict(method="es_maml", policy="mlp", hidden=(8,))).hidden == (8,)
    with pytest.raises(ConfigError) as error:
        build_config(dict(method="es_maml", sigma=0.0))
    assert error.value.field == "sigma"
