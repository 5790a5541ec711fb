"""The meta-learning methods by name, each loaded only when a run uses it.

A method is a class built as ``Method(config, family)`` that the ``Trainer`` drives
(``esmaml_core.trainer.MetaLearner``). ``PG_METHODS`` are the policy-gradient family
(one Gaussian policy, action-space noise): vanilla PG-MAML and the literature's outer
steps (``esmaml_core.pg_family``). PG-MAML imports JAX, so every method is named
here by its import path and imported on first use: listing the methods (for the CLI,
the form or validation) loads none of them.
"""

from __future__ import annotations

from importlib import import_module

from esmaml_core.registry import Entry, Registry


def lazy(path: str):
    """A factory that imports ``module:attribute`` on its first call and then calls it."""
    module_name, attribute = path.split(":")

    def load_and_call(*args, **kwargs):
        return getattr(import_module(module_name), attribute)(*args, **kwargs)

    load_and_call.__qualname__ = path
    return load_and_call


METHODS = Registry(
    "method",
    {
        "es_maml": Entry(lazy("esmaml_core.es_maml:ZeroOrderESMAML"), "ES-MAML (zero-order)"),
        "es_maml_first_order": Entry(lazy("esmaml_core.es_maml:FirstOrderESMAML"), "ES-MAML (first-order / Hessian)"),
        "pg_maml": Entry(lazy("esmaml_core.pg_maml:PGMAML"), "PG-MAML (policy gradient)"),
        "trpo_maml": Entry(lazy("esmaml_core.pg_family:TRPOMAML"), "TRPO-MAML"),
        "promp": Entry(lazy("esmaml_core.pg_family:ProMP"), "ProMP"),
        "tmaml": Entry(lazy("esmaml_core.pg_family:TMAML"), "T-MAML"),
    },
)
PG_METHODS = ("pg_maml", "trpo_maml", "promp", "tmaml")
INNER_OBJECTIVES = Registry(
    "inner objective",
    {
        "dice": Entry(lazy("esmaml_core.pg_maml:dice_objective"), "DiCE (exact second order)"),
        "reinforce": Entry(lazy("esmaml_core.pg_maml:reinforce_objective"), "REINFORCE (MAML's code)"),
    },
)
"""The PG inner step's surrogate L(log_probs, advantages): the same gradient, different Hessians (``pg_maml``)."""
PRECISIONS = Registry(
    "precision",
    {
        "float64": Entry("float64", "float64 (as the rest of the library)"),
        "float32": Entry("float32", "float32 (about twice as fast)"),
    },
)
