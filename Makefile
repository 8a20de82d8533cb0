# Two entry points (see README): `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-airflow browser clean lab voila

DEMO_CUSTOMERS := customers/example.yaml customers/bluefin.yaml customers/coral.yaml

demo: $(VENV)/.runtime
	$(PY) -m helpers run $(DEMO_CUSTOMERS) --sandbox

test: $(VENV)/.dev browser
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest

# The Airflow DAG (integrations/airflow/), run by Airflow itself against the sandbox, in its own environment.
AIRFLOW_VENV := .venv-airflow
test-airflow: $(AIRFLOW_VENV)/.installed
	$(AIRFLOW_VENV)/bin/python -m pytest integrations/airflow

$(AIRFLOW_VENV)/.installed: requirements-airflow.txt requirements.txt pyproject.toml
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-airflow.txt
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# The browser tests drive Debian's Chromium (never `playwright install`: browser downloads are
# blocked); installed when missing. The emoji font makes the verdict marks legible, the CJK font the Korean.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-color-emoji fonts-noto-cjk >/dev/null 2>&1; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium fonts-noto-color-emoji fonts-noto-cjk >/dev/null; \
	fi

# Training (docs/training.md): the sandbox, a webhook receiver and JupyterLab (or the Voila app)
# in one command; Ctrl-C stops everything. Extra options: make lab LAB_ARGS="--port 8888 --no-browser"
lab: $(VENV)/.runtime
	$(PY) -m helpers lab $(LAB_ARGS)

voila: $(VENV)/.runtime
	$(PY) -m helpers voila $(LAB_ARGS)

$(VENV)/.runtime: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) runs artifacts
