"""The Voila app's kernels (PLAYBOOK_APP_MODE=voila): a step notebook executed as a page opens makes no Graph call.

Each page runs every cell when it opens; in the app the action cell only says to press Run, and the
verdict cell has nothing to judge yet, so the page opens without a failed cell. The sandbox counts
the Graph requests it serves.
"""
from __future__ import annotations

import nbformat
import papermill
import pytest

from helpers import steps
from notebook_fixtures import CUSTOMERS, NOTEBOOKS, declared_parameters, ensure_venv_kernel, environment


@pytest.fixture(scope="module", autouse=True)
def kernel(sandbox):
    ensure_venv_kernel()


@pytest.mark.parametrize("name", ["06_phone_numbers", "08_register", "10_send_test_message"])
def test_a_page_opened_in_the_app_makes_no_graph_call(sb, tmp_path, name):
    params = {"profile": str(CUSTOMERS / "example.yaml"), "graph_url": sb.url, "interactive": True,
              "run_dir": str(tmp_path)}
    params = {k: v for k, v in params.items() if k in declared_parameters(name)}
    output = tmp_path / f"{name}.ipynb"
    assert sb.control.stats()["graph_requests"] == 0  # reset with the sandbox by the sb fixture
    with environment({steps.APP_MODE_ENV: "voila"}):
        papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=params,
                                   kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False,
                                   log_output=False, start_timeout=60, execution_timeout=120)
    assert sb.control.stats()["graph_requests"] == 0, "opening the page acted on its own"
    outputs = [o for cell in nbformat.read(output, as_version=4).cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], "the page opened with a failed cell"
    assert not (tmp_path / f"{name}.json").exists(), "nothing ran, so there is no record"


def test_the_same_page_outside_the_app_acts_on_open(sb, tmp_path):
    """The counter can fail: the same notebook run in JupyterLab (no app mode) calls the Graph API."""
    params = {"profile": str(CUSTOMERS / "example.yaml"), "graph_url": sb.url, "interactive": True,
              "run_dir": str(tmp_path)}
    papermill.execute_notebook(str(NOTEBOOKS / "06_phone_numbers.ipynb"), str(tmp_path / "06.ipynb"), parameters=params,
                               kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False, log_output=False,
                               start_timeout=60, execution_timeout=120)
    assert sb.control.stats()["graph_requests"] > 0
