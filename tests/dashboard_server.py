"""The browser tests' dashboard: ``launcher.running_dashboard`` importing this checkout.

``running_dashboard`` starts ``python -m esmaml_core dashboard`` in the runs folder on
127.0.0.1, healthy before it yields its URL and stopped by its own PID afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from esmaml_core import launcher

ROOT = Path(__file__).resolve().parents[1]


def this_checkout() -> dict[str, str]:
    """The environment with this checkout first on PYTHONPATH, so a child process imports its esmaml_core."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@contextmanager
def running_dashboard(runs_dir: Path) -> Iterator[str]:
    """``launcher.running_dashboard`` importing this checkout's esmaml_core."""
    with launcher.running_dashboard(runs_dir, this_checkout()) as url:
        yield url
