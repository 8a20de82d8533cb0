"""Imported once by the kernel fork server (forkserver.py), so every kernel forked from it starts
with the playbook's libraries loaded and its caches filled; importing pandas and friends costs ~1 s
per process, and what a kernel would otherwise still load itself (ipykernel's kernel and debugger
modules at start, pandas' Styler and jinja2 at its first table, the translations at its first word)
another ~0.3 CPU-second per customer."""
import importlib

for _name in ("pandas", "requests", "ipywidgets", "yaml", "jinja2", "pandas.io.formats.style", "netrc",
              "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "IPython.core.logger",
              "helpers.client", "helpers.operations", "helpers.tables", "helpers.steps", "helpers.forms",
              "helpers.plan", "helpers.webhooks", "helpers.peers", "helpers.sandbox.peer"):
    try:
        importlib.import_module(_name)
    except Exception:  # a step that needs it will report the real error
        pass
try:
    from helpers.i18n import LANGUAGES, translations

    for _language in LANGUAGES:
        translations(_language)  # parsed once here, not by each kernel of a customer in that language
    del LANGUAGES, translations, _language
except Exception:
    pass
del importlib, _name
