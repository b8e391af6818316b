# The scripts users and CI call. Each target creates .venv when it is missing.
# `make run` installs what serving needs and nothing more; the other targets
# install everything (test tools, linters, the media extra) on top.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
STAMP := $(VENV)/.installed-all-$(HASH)
ARGS ?=
# Installs go through uv (a PyPI package, put in the environment first): with a
# warm cache it installs in seconds where pip takes half a minute or more. pip
# does it when uv cannot be had. The pip that came with $(PY) installs into the
# new environment when it can (`pip --python`): a venv's own pip takes ~10 s
# to set up on a small machine.
# (Shell substitutions, not $(shell): they must look when the line runs.)
PIP = $$($(PY) -m pip --python $(BIN)/python --version >/dev/null 2>&1 \
	&& echo "$(PY) -m pip --python $(BIN)/python" || echo "$(BIN)/python -m pip") \
	install -q --disable-pip-version-check
INSTALL = $$(test -x $(BIN)/uv && echo "$(BIN)/uv pip install -q --python $(BIN)/python" \
	|| echo "$(PIP) --no-compile")

.PHONY: run test lint demo bench clean migrate

$(BIN)/python:
	$(PY) -m venv --without-pip $(VENV)
	$(PY) -m pip --python $(BIN)/python --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip -q
	$(PIP) uv || echo "uv not available: installing with pip"

# Serving only: the package and its runtime dependencies (modules are compiled
# as they are first imported, not all ahead: that alone took half a minute).
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(INSTALL) -e .
	rm -f $(VENV)/.installed-run-*
	touch $(RUN_STAMP)

# Everything: test and lint tools, media (aiortc), and pip itself (the
# packaging tests build and install wheels with it).
$(STAMP): pyproject.toml | $(BIN)/python
	$(INSTALL) -e '.[dev,media]' pip
	rm -f $(VENV)/.installed-*
	touch $(STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/frontdesk serve $(ARGS)

# Everything but media first; then the media/browser suites inside a network
# namespace that has only loopback (WebRTC must not touch other addresses).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not netns" $(ARGS)
	scripts/in-netns $(BIN)/python -m pytest -m netns -p no:cacheprovider $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/frontdesk demo $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(ARGS)

# The database schema is migrated by `frontdesk serve` at start-up; this only
# does it ahead of time (the database of FRONTDESK_DATABASE_URL, else ./var/).
migrate: $(RUN_STAMP)
	$(BIN)/python -c "from frontdesk.config import Settings; from frontdesk.store.migrate import upgrade; upgrade(Settings.from_env().database_url)"

clean:
	rm -rf $(VENV) var/*.db* .pytest_cache .mypy_cache
