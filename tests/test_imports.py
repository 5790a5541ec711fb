"""Importing the library changes nothing process-wide; neither does using it, beyond what a call returns."""

import subprocess
import sys

CHECK = """
import os, pkgutil, importlib
import gymnasium, jax  # these two set variables of their own on import (pygame's prompt, TensorFlow's logging)
umask = os.umask(0o022); os.umask(umask)
environment = dict(os.environ)
import esmaml_core
for module in pkgutil.walk_packages(esmaml_core.__path__, "esmaml_core."):
    if module.name not in ("esmaml_core.__main__",):
        importlib.import_module(module.name)
from esmaml_core.config import TrainConfig
from esmaml_core.trainer import make_trainer
with make_trainer(TrainConfig.for_method(method="pg_maml", task="goal_2d", queries=2, task_batch=2,
                                         eval_tasks=2, probe_tasks=0, horizon=5)) as trainer:
    result = trainer.step()
assert trainer.state.params.dtype.name == "float64"
now = os.umask(0o022); os.umask(now)
print(now == umask, dict(os.environ) == environment, bool(jax.config.jax_enable_x64))
"""


def test_importing_and_training_change_no_umask_environment_or_jax_precision():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}  # no MUJOCO_GL: the library must not set one
    output = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, timeout=300)
    assert output.returncode == 0, output.stderr
    assert output.stdout.split() == ["True", "True", "False"]  # umask and environment kept, JAX left in float32
