# The scripts users and CI call. Each target creates .venv when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
ARGS ?=

.PHONY: run test lint demo bench clean migrate

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,media]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
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

clean:
	rm -rf $(VENV) var/*.db* .pytest_cache .mypy_cache
