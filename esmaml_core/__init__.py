"""ES-MAML Studio core: Hessian-free meta-learning (Song et al., ICLR 2020) over flat parameter vectors.

The library has no Streamlit import. Start from :func:`esmaml_core.config.TrainConfig`,
:func:`esmaml_core.trainer.make_trainer` and :mod:`esmaml_core.runs`, or the CLI
``python -m esmaml_core --help``.
"""

__version__ = "0.1.0"
