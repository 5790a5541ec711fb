"""The library's error types. Each front end (CLI, dashboard) words them for its own users.

Every error the library raises on purpose is an ``ESMAMLError``; the messages describe
the problem in the library's terms (field names, file paths), never a front end's
(no command-line flags, no form labels).
"""

from __future__ import annotations


class ESMAMLError(Exception):
    """Base of every error the library raises on purpose."""


class ConfigError(ESMAMLError, ValueError):
    """A configuration value that is not allowed; names the field, the value and the rule."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}: got {value!r}; {allowed}")


class RunStoreError(ESMAMLError, RuntimeError):
    """A run folder that cannot be created, opened or resumed as asked."""


class RunExistsError(RunStoreError):
    """A new run was asked for in a folder that already holds something."""

    def __init__(self, path: object):
        self.path = path
        super().__init__(f"{path} already exists and is not empty")


class RunLockedError(RunStoreError):
    """A run folder that another writer holds (a training process, a dashboard tab)."""

    def __init__(self, path: object):
        self.path = path
        super().__init__(f"{path} is being written by another process; wait for it to finish or stop it")


class CheckpointError(RunStoreError):
    """A checkpoint file that is truncated, corrupted or not a checkpoint."""


class DivergenceError(ESMAMLError, RuntimeError):
    """An iteration produced NaN or inf; the trainer's whole state is left as it was before it."""

    def __init__(self, iteration: int):
        self.iteration = iteration
        super().__init__(
            f"iteration {iteration} produced NaN or inf (returns, gradient or parameters); "
            "a smaller meta step size (lr) or adaptation step size (alpha) may help"
        )


class WorkerError(ESMAMLError, RuntimeError):
    """A worker process that ran rollouts died (killed, out of memory); the run's last checkpoint is intact."""
