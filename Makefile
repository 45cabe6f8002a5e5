# Two commands for a new user: `make run` (the whole system) and `make test`.
# Everything else here is what those two need on a fresh clone.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install proto lint bench clean

run: $(STAMP)
	$(BIN)/trackmint up

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml proto/pyproject.toml sdk/python/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./proto -e ./sdk/python -e '.[dev]'
	touch $(STAMP)

# Regenerate proto/trackmint/v1/*_pb2*.py after editing a .proto file.
proto: $(STAMP)
	$(BIN)/python proto/generate.py

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .trackmint .pytest_cache
