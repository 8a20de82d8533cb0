"""Imported at kernel start-up (IPKernelApp.exec_lines) so a spare kernel has the playbook's
libraries loaded before its customer arrives; importing pandas and friends costs ~1 s."""
import importlib

for _name in ("pandas", "requests", "ipywidgets", "yaml", "helpers.client", "helpers.operations", "helpers.tables",
              "helpers.steps", "helpers.forms", "helpers.plan", "helpers.webhooks", "helpers.sandbox.control"):
    try:
        importlib.import_module(_name)
    except Exception:  # a step that needs it will report the real error
        pass
del importlib, _name
