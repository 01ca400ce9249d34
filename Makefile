# Two commands do all the set-up on a fresh Debian machine:
#   make run    install what is missing, then start Redis (if none answers), the API and the workers
#   make test   install what is missing, then run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install system-packages bench bench-accuracy bench-tools lint clean

run: install
	$(BIN)/lector up

test: install
	$(BIN)/ruff check service tests fixtures
	$(BIN)/ruff format --check --quiet service tests fixtures
	$(BIN)/pytest

bench: install bench-tools
	$(BIN)/python -m tests.benchmarks.sync
	$(BIN)/python -m tests.benchmarks.async_ocrmypdf

# Receipt fields and text on ../shared/datasets/sroie-dev, read in place (DATA=dir for another set).
bench-accuracy: install
	$(BIN)/python -m tests.benchmarks.accuracy $(if $(DATA),--data $(DATA))

# OCRmyPDF is installed for the benchmark only, in its own environment, with Ghostscript.
bench-tools:
	@command -v gs >/dev/null 2>&1 || { sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq ghostscript; }
	@[ -x .bench-venv/bin/ocrmypdf ] || { $(PYTHON) -m venv .bench-venv && \
		.bench-venv/bin/pip install --quiet --disable-pip-version-check ocrmypdf; }

lint: install
	$(BIN)/ruff check service tests fixtures
	$(BIN)/ruff format --check service tests fixtures

install: system-packages $(STAMP)

# Debian packages: Tesseract with English, redis-server, curl for the examples, and venv
# support for the system Python. Only what is missing is installed.
system-packages:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Lector needs Python 3.11 or newer ($(PYTHON))."; exit 1; }
	@need=""; \
	command -v tesseract >/dev/null 2>&1 || need="$$need tesseract-ocr"; \
	tesseract --list-langs 2>/dev/null | grep -qx eng || need="$$need tesseract-ocr-eng"; \
	command -v redis-server >/dev/null 2>&1 || need="$$need redis-server"; \
	command -v curl >/dev/null 2>&1 || need="$$need curl"; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || need="$$need python3-venv"; \
	if [ -n "$$need" ]; then \
		echo "Installing Debian packages:$$need"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$need; \
	fi

# The virtual environment is rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .bench-venv .pytest_cache .ruff_cache service/__pycache__
