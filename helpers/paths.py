"""Where the playbook's files are: the repository root, the step notebooks, the training profile and the
folder of replayed drills. Only paths: nothing here imports another helpers module, so any of them may use it.
"""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
DEFAULT_PROFILE = REPO_ROOT / "customers" / "training.yaml"
DEFAULT_DRILLS_DIR = REPO_ROOT / "runs" / "drills"  # `python -m helpers drill from-run` writes there
