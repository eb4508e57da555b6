"""Makes `from models import ...` work however pytest is started (the workspace is tests/'s parent)."""

import sys
from pathlib import Path

WORKSPACE = str(Path(__file__).resolve().parent.parent)
if WORKSPACE not in sys.path:
    sys.path.insert(0, WORKSPACE)
