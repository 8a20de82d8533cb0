"""The notebooks as the lab and the Voila app list them: the step files in order with their short labels
and titles, the words of the Voila templates, and the localized copies (`localize_tree`) that JupyterLab
and Voila serve in another language. No process is started here (helpers.lab does that).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat

from .i18n import N_, gettext, localize_notebook
from .paths import NOTEBOOKS_DIR

# 06_phone_numbers.ipynb, 07a_system_user.ipynb: two digits, an optional letter for a step inserted later.
STEP_FILE = re.compile(r"^(\d{2}[a-z]?)_[a-z0-9_]+\.ipynb$")
# The words the Voila templates show (voila/templates/playbook/*: `t('...')`), listed here for the catalogue;
# the templates get them translated (helpers.lab_notebooks.voila_words) and fall back to the English they are written in.
VOILA_WORDS = (
    N_("Training app"), N_("Onboarding steps"), N_("Previous and next step"), N_("More about this step"),
    N_("More about this page"), N_("Onboarding playbook: training app"), N_("back"),
    N_("WhatsApp Cloud API onboarding: training app"),
    N_("Each page is one step of a customer's onboarding, run against the local sandbox (no Meta account, nothing "
       "leaves this machine). A page does nothing when it opens: fill in the form at the top and press its button; "
       "the result and the verdict appear below the form. The bar at the top of every step leads to the others, in "
       "order. The training scenarios are under <b>Training</b>."),
    N_("Training"), N_("Scenarios"),
)
# The steps' short labels (from their file names, helpers.lab_notebooks.step_label), for the catalogue.
STEP_LABELS = (
    N_("Plan"), N_("Assets"), N_("Terms"), N_("Access token"), N_("Webhooks"), N_("Subscribe WABA"),
    N_("Phone numbers"), N_("Migration"), N_("System user"), N_("Credit line"), N_("Register"),
    N_("Receive message"), N_("Send test message"), N_("Business profile"), N_("Templates"), N_("Go live"),
)


def step_notebooks(notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR, language: str | None = None) -> list[dict[str, str]]:
    """The numbered step notebooks in order: file, number, short label (in `language`, default the current
    one), title (the first markdown heading), heading (the title without its number)."""
    steps = []
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        if not STEP_FILE.match(path.name):
            continue
        number, title = STEP_FILE.match(path.name).group(1), _notebook_title(path)
        label = gettext(step_label(path.name), language)  # STEP_LABELS lists them for the catalogue
        steps.append({"file": path.name, "number": number, "label": label, "title": title,
                      "heading": re.sub(rf"^{number}\s*[·:.-]?\s*", "", title).replace("**", "") or title})
    return steps


def step_label(file_name: str) -> str:
    """A short label from the file name: 05_subscribe_waba.ipynb -> 'Subscribe WABA'."""
    return Path(file_name).stem.split("_", 1)[-1].replace("_", " ").capitalize().replace("waba", "WABA")


def voila_words(language: str) -> dict[str, str]:
    """The Voila templates' words in `language`, {English: translation}: those the catalogue has."""
    return {word: gettext(word, language) for word in VOILA_WORDS if gettext(word, language) != word}


def localize_tree(notebooks_dir: str | os.PathLike, root: str | os.PathLike, language: str) -> Path:
    """<root>/<notebooks_dir's name>: a fresh copy of `notebooks_dir` (subfolders too) whose notebooks' prose is
    in `language` (helpers.i18n.localize_notebook; code cells unchanged). Beside it, <root> links to every other
    entry next to `notebooks_dir` (customers/, ...), so the notebooks' relative paths (../customers/example.yaml)
    resolve as they do from the original. Hidden entries, and the one holding <root> itself, are not linked."""
    source, root = Path(notebooks_dir).resolve(), Path(root).resolve()
    target = root / source.name
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for path in sorted(target.rglob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.write(localize_notebook(notebook, language), path)
    for entry in sorted(source.parent.iterdir()):
        if entry.name.startswith(".") or entry == source or root.is_relative_to(entry.resolve()):
            continue
        (root / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return target


def _notebook_title(path: Path) -> str:
    fallback = step_label(path.name)
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return fallback
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell.get("source", ""))
        for line in source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or fallback
    return fallback
