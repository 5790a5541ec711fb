"""Pretrained meta-policies: the file format of an exported run, ``<name>.npz`` + ``<name>.json``.

The ``.npz`` holds the full trainer state (as a checkpoint, ``allow_pickle=False``); the
``.json`` holds the config, the final training metrics, the held-out evaluation that was
recorded at export time, and the command that made it. ``RunStore.export`` writes
assets; ``esmaml_core.runs.load_trainer`` loads a run folder or an asset alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from esmaml_core.config import TrainConfig
from esmaml_core.errors import ConfigError, RunStoreError
from esmaml_core.files import atomic_write, load_checkpoint, save_arrays
from esmaml_core.trainer import Trainer, TrainerState, make_trainer

EVALUATION_SEED = 0
PROJECT_ROOT = Path(__file__).resolve().parents[1]
PRETRAINED_DIR = PROJECT_ROOT / "assets" / "pretrained"  # the meta-policies shipped with the project


def asset_paths(path: str | Path) -> tuple[Path, Path]:
    """(``.npz``, ``.json``) of an asset named by either file or by its stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def is_asset(path: str | Path) -> bool:
    params_path, meta_path = asset_paths(path)
    return params_path.is_file() and meta_path.is_file()


def write_asset(out: str | Path, state: TrainerState, meta: dict) -> None:
    """Write an asset: the state as ``<out>.npz``, ``meta`` as ``<out>.json``."""
    params_path, meta_path = asset_paths(out)
    save_arrays(params_path, state.to_arrays())
    atomic_write(meta_path, (json.dumps(meta, indent=2) + "\n").encode())


def read_asset_meta(path: str | Path) -> dict:
    """The ``.json`` of an asset; RunStoreError naming the file if it is not an asset's."""
    meta_path = asset_paths(path)[1]
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunStoreError(f"{meta_path} is unreadable: {error}") from error
    if not isinstance(meta, dict) or "config" not in meta or "iteration" not in meta:
        raise RunStoreError(f"{meta_path} is not a pretrained asset's description (no config and iteration)")
    return meta


def asset_trainer(path: str | Path) -> Trainer:
    """A trainer holding the asset's meta-policy."""
    trainer = make_trainer(TrainConfig.from_dict(read_asset_meta(path)["config"]))
    params_path = asset_paths(path)[0]
    trainer.restore(load_checkpoint(params_path), params_path)
    return trainer


@dataclass(frozen=True)
class PretrainedPolicy:
    """A shipped meta-policy; ``path`` is its name without suffix; ``evaluation``: its recorded held-out
    evaluation, (mean post-adaptation return, tasks), if the asset has one."""

    path: Path
    config: TrainConfig
    iteration: int
    evaluation: tuple[float, int] | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def held_out_return(self, iteration: int) -> tuple[float, int] | None:
        """(Mean post-adaptation return, held-out tasks) at ``iteration``: the recorded evaluation."""
        return self.evaluation if iteration == self.iteration else None


def list_pretrained(root: str | Path = PRETRAINED_DIR, task: str | None = None) -> list[PretrainedPolicy]:
    """Pretrained assets under ``root``, by name, optionally only one task's; unreadable ones are left out."""
    found = []
    for meta_path in sorted(Path(root).glob("*.json")):
        if not is_asset(meta_path):
            continue
        try:
            meta = read_asset_meta(meta_path)
            recorded = meta.get("evaluation")
            evaluation = None if recorded is None else (float(recorded["post_adaptation_return"]), recorded["tasks"])
            policy = PretrainedPolicy(
                meta_path.with_suffix(""), TrainConfig.from_dict(meta["config"]), meta["iteration"], evaluation
            )
        except (RunStoreError, ConfigError, TypeError, KeyError, ValueError):
            continue
        if task is None or policy.config.task == task:
            found.append(policy)
    return found
