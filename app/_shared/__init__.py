"""View helpers shared by the dashboard's pages; the logic they display lives in esmaml_core.

The dashboard's process is its own: importing this package (every page does, before
``esmaml_core``) makes MuJoCo render headless unless the user chose a GL backend.
MuJoCo reads ``MUJOCO_GL`` when first imported.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
