"""Showing things in the notebook: objects, Markdown and HTML through IPython's display.

Headless (papermill) these become plain outputs of the output notebook; in JupyterLab and Voila
they render. Every step module shows through here.
"""
from __future__ import annotations

from typing import Any

from IPython.display import HTML, Markdown, display


def show(*objects: Any) -> None:
    display(*objects)


def markdown(text: str) -> None:
    show(Markdown(text))


def html(markup: str) -> None:
    show(HTML(markup))
