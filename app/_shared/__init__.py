"""View helpers shared by the dashboard's pages; the logic they display lives in esmaml_core.

Importing this package puts the project root on ``sys.path``, so ``streamlit run
app/Home.py`` finds ``esmaml_core`` without installing the project.
"""

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
