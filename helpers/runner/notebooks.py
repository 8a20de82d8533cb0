"""The step notebooks: discovery, `--steps` selection, and each notebook's parameter names."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from ..errors import ConfigError
from ..i18n import _

DEFAULT_STEP_TIMEOUT = 300.0  # seconds, per step (wall clock)
NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
# NN_name, or NNx_name for a step inserted after NN (07a_system_user runs between 07 and 08).
_STEP_FILE = re.compile(r"^(\d{2}[a-z]?)_[a-z0-9_]+\.ipynb$")


def discover(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered step notebooks, in order."""
    steps = sorted(p for p in Path(notebooks_dir).glob("*.ipynb") if _STEP_FILE.match(p.name))
    if not steps:
        raise ConfigError(_("no step notebooks (NN_name.ipynb) in {folder}.").format(folder=notebooks_dir))
    return steps


def step_number(path_or_stem: str | Path) -> str:
    """'07a' for 07a_system_user(.ipynb), '08' for 08_register."""
    return Path(path_or_stem).name.split("_", 1)[0]


def _order(number: str) -> tuple[int, str]:
    return int(number[:2]), number[2:]


def select(steps: list[Path], spec: str | None) -> list[Path]:
    """Keep the steps named by `spec`, e.g. '03,05-08'; all steps when spec is None."""
    if spec is None:
        return steps
    if not spec.strip():  # `--steps ''` (an unset shell variable, say) must not mean "every step"
        raise ConfigError(_("--steps is empty: name the steps to run (e.g. --steps 03,05-08), or leave --steps out "
                            "to run every step."))
    numbers = {step_number(p): p for p in steps}
    wanted: set[str] = set()
    for part in spec.split(","):
        part = part.strip().lower()
        match = re.fullmatch(r"(\d{1,2}[a-z]?)(?:-(\d{1,2}[a-z]?))?", part)
        if not match:
            raise ConfigError(_("--steps: '{part}' is not a step number or range; write e.g. 03,05-08 or 07a.").format(
                part=part))
        low, high = (_normal(match[1]), _normal(match[2])) if match[2] else (_normal(match[1]), None)
        if high is None:
            if low not in numbers:
                raise ConfigError(_("--steps: no step {step}; steps are {steps}.").format(
                    step=low, steps=", ".join(p.stem for p in steps)))
            wanted.add(low)
            continue
        # A range takes the inserted steps inside it: 05-08 includes 07a and 07b; 08 as the end takes 08 only.
        start, end = _order(low), _order(high)
        if end < start:
            raise ConfigError(_("--steps: range '{part}' runs backwards.").format(part=part))
        for end_number in (low, high):
            if end_number not in numbers:
                raise ConfigError(_("--steps: no step {step}; steps are {steps}.").format(
                    step=end_number, steps=", ".join(p.stem for p in steps)))
        wanted.update(n for n in numbers if start <= _order(n) <= end)
    return [p for p in steps if step_number(p) in wanted]


def _normal(number: str) -> str:
    return number.zfill(2) if number.isdigit() else number[:-1].zfill(2) + number[-1]


@functools.lru_cache(maxsize=None)
def parameter_names(notebook: Path) -> frozenset[str]:
    """Names declared in the notebook's `parameters` cell (what papermill may inject)."""
    import papermill  # slow to import; only the runner needs it

    return frozenset(papermill.inspect_notebook(str(notebook)).keys())
