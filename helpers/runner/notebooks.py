"""The step notebooks: discovery, `--steps` selection, and each notebook's parameter names."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from ..errors import ConfigError

DEFAULT_STEP_TIMEOUT = 300.0  # seconds, per step (wall clock)
NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
_STEP_FILE = re.compile(r"^(\d{2})_[a-z0-9_]+\.ipynb$")


def discover(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered step notebooks, in order."""
    steps = sorted(p for p in Path(notebooks_dir).glob("*.ipynb") if _STEP_FILE.match(p.name))
    if not steps:
        raise ConfigError(f"no step notebooks (NN_name.ipynb) in {notebooks_dir}.")
    return steps


def select(steps: list[Path], spec: str | None) -> list[Path]:
    """Keep the steps named by `spec`, e.g. '03,05-08'; all steps when spec is None."""
    if spec is None:
        return steps
    if not spec.strip():  # `--steps ''` (an unset shell variable, say) must not mean "every step"
        raise ConfigError("--steps is empty: name the steps to run (e.g. --steps 03,05-08), or leave --steps out "
                          "to run every step.")
    wanted: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d{1,2})(?:-(\d{1,2}))?", part)
        if not match:
            raise ConfigError(f"--steps: '{part}' is not a step number or range; write e.g. 03,05-08.")
        low, high = int(match[1]), int(match[2] or match[1])
        if high < low:
            raise ConfigError(f"--steps: range '{part}' runs backwards.")
        wanted.update(range(low, high + 1))
    known = {int(p.name[:2]) for p in steps}
    unknown = sorted(wanted - known)
    if unknown:
        raise ConfigError(f"--steps: no step {', '.join(f'{n:02d}' for n in unknown)}; steps are "
                          f"{', '.join(p.stem for p in steps)}.")
    return [p for p in steps if int(p.name[:2]) in wanted]


@functools.lru_cache(maxsize=None)
def parameter_names(notebook: Path) -> frozenset[str]:
    """Names declared in the notebook's `parameters` cell (what papermill may inject)."""
    import papermill  # slow to import; only the runner needs it

    return frozenset(papermill.inspect_notebook(str(notebook)).keys())
