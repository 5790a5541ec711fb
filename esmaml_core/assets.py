"""Pretrained meta-policies: a trained run exported as ``<name>.npz`` + ``<name>.json``.

The ``.npz`` holds the full trainer state (as a checkpoint, ``allow_pickle=False``); the
``.json`` holds the config, the final training metrics, the held-out evaluation that was
recorded at export time, and the command that made it. ``load_trainer`` accepts a run
folder or an asset (either file, or the path without suffix), so ``eval`` and ``render``
work on both.
"""

from __future__ import annotations

import json
from pathlib import Path

from esmaml_core.config import TrainConfig
from esmaml_core.runs import RunStore, RunStoreError, atomic_write, load_checkpoint, save_arrays
from esmaml_core.trainer import Trainer, make_trainer

EVALUATION_SEED = 0


def asset_paths(path: str | Path) -> tuple[Path, Path]:
    """(``.npz``, ``.json``) of an asset named by either file or by its stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def is_asset(path: str | Path) -> bool:
    params_path, meta_path = asset_paths(path)
    return params_path.is_file() and meta_path.is_file()


def export_asset(store: RunStore, out: str | Path, tasks: int, made_by: str) -> dict:
    """Write the run's newest good state as an asset, with a held-out evaluation of it."""
    trainer, _ = store.load_trainer()
    with trainer:
        outcome = trainer.evaluate(tasks, split="test", seed=EVALUATION_SEED)
    params_path, meta_path = asset_paths(out)
    params_path.parent.mkdir(parents=True, exist_ok=True)
    metrics = store.read_metrics()
    meta = {
        "config": trainer.config.to_dict(),
        "iteration": trainer.state.iteration,
        "final_metrics": metrics[-1] if metrics else None,
        "evaluation": {
            "tasks": tasks,
            "split": "test",
            "seed": EVALUATION_SEED,
            "pre_adaptation_return": float(outcome.pre_adaptation_returns.mean()),
            "post_adaptation_return": float(outcome.post_adaptation_returns.mean()),
        },
        "made_by": made_by,
    }
    save_arrays(params_path, trainer.state.to_arrays())
    atomic_write(meta_path, (json.dumps(meta, indent=2) + "\n").encode())
    return meta


def read_asset_meta(path: str | Path) -> dict:
    return json.loads(asset_paths(path)[1].read_text())


def load_trainer(path: str | Path) -> tuple[Trainer, list[str]]:
    """A trainer restored from a run folder or a pretrained asset, and any warnings."""
    if is_asset(path):
        params_path, _ = asset_paths(path)
        trainer = make_trainer(TrainConfig.from_dict(read_asset_meta(path)["config"]))
        trainer.state = load_checkpoint(params_path)
        return trainer, []
    if Path(path).is_dir():
        return RunStore.open(path).load_trainer()
    raise RunStoreError(f"{path} is neither a run folder nor a pretrained asset (<name>.npz + <name>.json)")
