"""Random option values and random bytes in run files: a clear refusal or a correct load, never a traceback,
never a lost metrics row (property-based, hypothesis)."""

import contextlib
import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esmaml_core.cli import build_parser, given_config_values
from esmaml_core.comparison import scan_runs
from esmaml_core.config import OPTIONS, TrainConfig
from esmaml_core.errors import ConfigError, RunStoreError
from esmaml_core.runs import RunStore, run_training

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(-5, 5000), max_size=4).map(tuple),
)
FLAGS = sorted({"--" + name.replace("_", "-") for name in OPTIONS})
FLAGS = sorted("--" + name.replace("_", "-") for name in OPTIONS)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "run"
    config = TrainConfig(task="goal_2d", perturbations=4, queries=2, eval_tasks=2, probe_tasks=0, iterations=3)
    with RunStore.create(path, config) as store:
        trainer, _ = store.restore_trainer()
        list(run_training(trainer, store, 3))
    return path


def fresh_copy(trained_run, tmp_path):
    target = tmp_path / "copy"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(trained_run, target)
    return target


@SETTINGS
@given(values=st.dictionaries(st.sampled_from(list(OPTIONS)), ANY_VALUE, max_size=5))
def test_random_option_values_give_a_config_or_a_config_error(values):
    try:
        config = TrainConfig.from_given(values)
    except ConfigError as error:
        assert error.field in OPTIONS or error.field == "config"
        return
    assert config.validate() is config


@SETTINGS
@given(words=st.lists(st.sampled_from(FLAGS) | st.text(max_size=6), max_size=6))
def test_random_command_lines_parse_to_a_config_or_a_usage_error(words):
    try:
        args = build_parser().parse_args(["train", *words, "--out", "x"])
    except SystemExit as exit_:
        assert exit_.code == 2
        return
    with contextlib.suppress(ConfigError):
        TrainConfig.from_given(given_config_values(args))


@SETTINGS
@given(content=st.one_of(st.binary(max_size=200), JSON_VALUE.map(lambda value: json.dumps(value).encode())))
def test_random_config_files_are_refused_naming_the_file(tmp_path, trained_run, content):
    run = fresh_copy(trained_run, tmp_path)
    (run / "config.json").write_bytes(content)
    try:
        RunStore.open(run).config()
    except RunStoreError as error:
        assert "config.json" in str(error)
    runs, problems = scan_runs(run.parent)
    assert len(runs) + len(problems) == 1


@SETTINGS
@given(junk=st.lists(st.binary(max_size=60).filter(lambda line: b"\n" not in line), min_size=1, max_size=4))
def test_random_metrics_lines_lose_no_good_row(tmp_path, trained_run, junk):
    run = fresh_copy(trained_run, tmp_path)
    good = (run / "metrics.jsonl").read_bytes().splitlines(keepends=True)
    (run / "metrics.jsonl").write_bytes(b"".join([good[0], *(line + b"\n" for line in junk), *good[1:]]))
    store = RunStore.open(run)
    assert [row["iteration"] for row in store.read_metrics()][-3:] == [1, 2, 3]
    with store.writer() as writer:
        trainer, _ = writer.restore_trainer()
        trainer.close()
    assert [row["iteration"] for row in store.read_metrics()][-3:] == [1, 2, 3]


@SETTINGS
@given(cut=st.integers(0, 10_000), flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3))
def test_random_damage_to_the_newest_checkpoint_falls_back_or_loads(tmp_path, trained_run, cut, flips):
    run = fresh_copy(trained_run, tmp_path)
    store = RunStore.open(run)
    newest = store.checkpoints()[-1]
    data = bytearray(newest.read_bytes())
    for position, mask in flips:
        data[position % len(data)] ^= mask
    newest.write_bytes(bytes(data[: max(1, cut)]) if cut < len(data) else bytes(data))
    trainer, warnings = store.load_trainer()
    with trainer:
        assert trainer.state.iteration in (2, 3)  # the damaged one if its bytes still check out, else the one before
        assert (trainer.state.iteration == 2) == bool(warnings)
