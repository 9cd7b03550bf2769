# The two commands: `make up` runs the platform, `make test` runs the whole suite.
# Both install what is missing first (system packages when root, the virtualenv, pinned packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OPENCOO_VAR ?= $(CURDIR)/var
# pip on some machines carries a site-wide constraints file; the lock is ours to honour.
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: up test lint setup system-packages venv lock clean

up: setup
	$(BIN)/opencoo up

test: setup lint
	$(BIN)/opencoo broker ensure --management
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint and format (ruff, rules in pyproject.toml) and types (mypy, its files in pyproject.toml):
# seconds. `ruff format .` writes the format that the check wants.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: system-packages venv

system-packages:
	@deploy/dev/system-packages.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

# After changing dependencies in pyproject.toml: resolve again and pin what was installed.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q -e '.[test]'
	{ echo "# Exact versions that make, CI and deploy/Dockerfile install (pip install -r requirements.lock)."; \
	  echo "# Regenerate after changing pyproject.toml: make lock"; \
	  .lock-venv/bin/pip freeze --all --exclude-editable | grep -v '^pip=='; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var
