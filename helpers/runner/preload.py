"""Imported once by the kernel fork server (forkserver.py), so every kernel forked from it starts
with the playbook's libraries loaded; importing pandas and friends costs ~1 s per process."""
import importlib

for _name in ("pandas", "requests", "ipywidgets", "yaml", "helpers.client", "helpers.operations", "helpers.tables",
              "helpers.steps", "helpers.forms", "helpers.plan", "helpers.webhooks", "helpers.peers",
              "helpers.sandbox.peer"):
    try:
        importlib.import_module(_name)
    except Exception:  # a step that needs it will report the real error
        pass
del importlib, _name
