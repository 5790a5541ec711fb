"""Presets: each gives exactly its documented config, given options win, unknown names are refused."""

import pytest

from esmaml_core.assets import PRETRAINED_DIR, read_asset_meta
from esmaml_core.cli import build_parser, given_config_values, main, open_run_for_training, train_command
from esmaml_core.config import ConfigError, TrainConfig
from esmaml_core.form import build_config, parse_hidden_sizes, preset_form_values
from esmaml_core.presets import PRESETS, with_preset

# docs/ARCHITECTURE.md, "Presets": the standard MAML 2D-navigation configuration in this library's units.
MAML_NAV2D = dict(
    task="navigation_2d",
    method="trpo_maml",
    policy="mlp",
    hidden=(64, 64),
    activation="tanh",
    task_batch=20,
    queries=20,
    inner_steps=1,
    alpha=0.001,
    normalize_advantages=True,
    discount=0.99,
    gae_lambda=1.0,
    max_kl=0.01,
    cg_iterations=10,
    cg_damping=1e-5,
    cg_subsample=1.0,
    line_search_steps=15,
    backtrack_ratio=0.8,
    init_log_std=0.0,
    obs_norm=False,
    inner_objective="reinforce",
    precision="float32",
    iterations=500,
)


def train_config(argv: list[str], tmp_path) -> TrainConfig:
    store, config = open_run_for_training(build_parser().parse_args(["train", *argv, "--out", str(tmp_path / "run")]))
    store.close()
    return config


def test_maml_nav2d_is_the_documented_configuration(tmp_path):
    assert train_config(["--preset", "maml_nav2d"], tmp_path) == TrainConfig(**MAML_NAV2D)


def test_every_preset_is_a_valid_config_that_reads_all_its_values():
    for name in PRESETS:
        values = with_preset(name, {})
        assert values == dict(PRESETS[name].values)  # nothing dropped: every value applies
        TrainConfig.from_given(values)
        assert PRESETS[name].source


def test_given_options_win_and_values_that_no_longer_apply_are_dropped(tmp_path):
    config = train_config(["--preset", "maml_nav2d", "--max-kl", "0.05", "--seed", "3"], tmp_path / "a")
    assert (config.max_kl, config.seed, config.discount) == (0.05, 3, 0.99)
    config = train_config(["--preset", "maml_nav2d", "--method", "pg_maml"], tmp_path / "b")
    assert config.method == "pg_maml" and config.optimizer == "adam" and config.max_kl == TrainConfig.max_kl
    assert (config.hidden, config.alpha, config.normalize_advantages) == ((64, 64), 0.001, True)
    assert (config.inner_objective, config.precision) == ("reinforce", "float32")
    config = train_config(["--preset", "maml_nav2d", "--method", "promp"], tmp_path / "d")
    assert (config.inner_objective, config.precision) == ("dice", "float32")  # ProMP's inner step is its own
    with pytest.raises(ConfigError, match="only trpo_maml"):  # a given option the run would not read is refused
        train_config(["--preset", "maml_nav2d", "--method", "pg_maml", "--max-kl", "0.05"], tmp_path / "c")


def test_unknown_preset_is_refused_listing_the_known_ones(tmp_path, capsys):
    assert main(["train", "--preset", "maml_nav3d", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "maml_nav3d" in error and all(name in error for name in PRESETS)
    assert not (tmp_path / "run").exists()


def test_the_recorded_train_command_is_plain_and_gives_the_preset_config_back(tmp_path):
    config = TrainConfig(**MAML_NAV2D)
    command = train_command(config, "out")
    assert "--preset" not in command
    parsed = given_config_values(build_parser().parse_args(command.split()[3:]))
    assert TrainConfig.from_given(parsed) == config


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_form_filled_by_a_preset_builds_the_preset_config(name):
    values = preset_form_values(name)
    values["hidden"] = parse_hidden_sizes(values["hidden"])
    assert build_config(values) == TrainConfig.from_given(with_preset(name, {}))


@pytest.mark.parametrize(
    ("name", "asset", "seed"),
    [("pg_maml_four_corner", "four_corner_pg_maml_mlp", 1), ("pg_maml_goal_2d", "goal_2d_pg_maml_linear", 0)],
)
def test_the_pg_presets_are_the_configs_of_the_shipped_pg_maml_assets(name, asset, seed):
    """Each PG-MAML preset is the measured configuration its shipped asset was trained with."""
    shipped = TrainConfig.from_dict(read_asset_meta(PRETRAINED_DIR / asset)["config"])
    assert TrainConfig.from_given(with_preset(name, {"seed": seed})) == shipped
