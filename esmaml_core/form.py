"""The dashboard's Train form, generated from the option declarations in ``esmaml_core.config``.

Which fields the form shows for a method and operator, in which section, with which
choices and starting values, and how its values become a validated ``TrainConfig``:
the rules are those of ``TrainConfig.validate``, so the form never offers what
validation would refuse. A preset (``esmaml_core.presets``) fills the form with its
values. The app only draws what this module decides.
"""

from __future__ import annotations

import re

from esmaml_core.config import OPTIONS, SECTIONS, ConfigError, Option, TrainConfig, applies
from esmaml_core.presets import PRESETS, preset_values
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.mujoco import ForwardBackwardFamily

# The form's starting values, lighter than the paper's so a run shows progress soon: a
# point-task iteration then takes ~0.1 s; MuJoCo ones take seconds even at the lighter
# settings the pretrained MuJoCo assets were trained with (assets/README.md).
FORM_DEFAULTS = {"perturbations": 50, "iterations": 50}
MUJOCO_FORM_DEFAULTS = {"perturbations": 20, "queries": 10, "eval_tasks": 4, "horizon": 100}
TASK_DEPENDENT_FIELDS = tuple(MUJOCO_FORM_DEFAULTS)
# Fields a method change keeps; every other field takes the new method's starting value.
KEPT_ON_METHOD_CHANGE = ("task", "method", "policy", "hidden", "iterations", "seed")


def form_options() -> dict[str, Option]:
    """The options the form offers (every declared option not marked ``form=False``), in declaration order."""
    return {name: declared for name, declared in OPTIONS.items() if declared.form}


def sections() -> list[tuple[str, tuple[str, ...]]]:
    """(section title, field names) in the form's order."""
    offered = form_options()
    grouped = [
        (title, tuple(name for name, declared in offered.items() if declared.section == title)) for title in SECTIONS
    ]
    return [(title, names) for title, names in grouped if names]


def shown_fields(values: dict) -> tuple[str, ...]:
    """The form fields that apply with these ``values`` (method, operator, policy, ...)."""
    return tuple(
        name for name in form_options() if applies(name, {**form_defaults(values["method"], values["task"]), **values})
    )


def form_defaults(method: str, task: str) -> dict:
    """Starting values of the Train form for ``method`` on ``task`` (TrainConfig fields)."""
    values = {**TrainConfig.for_method(method=method).to_values(), **FORM_DEFAULTS}
    if isinstance(TASK_FAMILIES[task], ForwardBackwardFamily):
        values.update(MUJOCO_FORM_DEFAULTS)
    return values


NO_PRESET = ""


def preset_choices() -> tuple[str, ...]:
    """The Preset box's choices: none, then every preset."""
    return (NO_PRESET, *PRESETS)


def preset_label(name: str) -> str:
    return "none (choose the options below)" if name == NO_PRESET else PRESETS.label(name)


def form_values(values: dict) -> dict[str, object]:
    """What the form shows for config ``values``: every offered field, ``values`` over the starting values of
    their method and task (layer sizes as text, as the form types them)."""
    values = {**form_defaults(values["method"], values["task"]), **values}
    return {
        field: ", ".join(map(str, values[field])) if declared.kind == "sizes" else values[field]
        for field, declared in form_options().items()
    }


def preset_form_values(name: str) -> dict[str, object]:
    """What preset ``name`` puts in the form."""
    return form_values(preset_values(name))


def choices(name: str, method: str) -> tuple[str, ...]:
    """The choices of a choice field that ``TrainConfig.validate`` accepts with ``method``."""
    names = tuple(OPTIONS[name].choices)
    if name in ("task", "method"):
        return names
    return tuple(choice for choice in names if _accepted(method, name, choice))


def _accepted(method: str, name: str, value: str) -> bool:
    """Whether ``value`` is valid for field ``name`` under ``method``, where the field applies."""
    conditions = {other: allowed[0] for other, allowed in OPTIONS[name].when}
    try:
        TrainConfig.for_method(method=method, **conditions, **{name: value}).validate()
    except ConfigError:
        return False
    return True


def choice_label(name: str, value: str) -> str:
    """How the form shows a choice: its registry label, e.g. "hill climbing" for ``hill_climb``."""
    return OPTIONS[name].choices.label(value)


def parse_hidden_sizes(text: str) -> tuple[int, ...]:
    """'64, 64' -> (64, 64); anything but comma-separated whole numbers raises ConfigError."""
    parts = [part.strip() for part in str(text).split(",")]
    if not all(re.fullmatch(r"\d+", part) for part in parts):
        raise ConfigError("hidden", text, "comma-separated whole numbers, e.g. 32, 32")
    return tuple(int(part) for part in parts)


def build_config(values: dict) -> TrainConfig:
    """A validated config from form values (layer sizes as typed text or a tuple); fields that do not apply to
    the chosen method are dropped."""
    if isinstance(values.get("hidden"), str):
        values = {**values, "hidden": parse_hidden_sizes(values["hidden"])}
    method, task = values.get("method", TrainConfig.method), values.get("task", TrainConfig.task)
    wanted = shown_fields({**values, "method": method, "task": task})
    return TrainConfig.from_given({name: value for name, value in values.items() if name in wanted})
