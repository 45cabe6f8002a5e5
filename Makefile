# Two commands for a new user: `make run` (the whole system) and `make test`.
# Everything else here is what those two need on a fresh clone.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The browser tests drive Debian's Chromium through Playwright, which never downloads a browser of its own.
CHROMIUM := /usr/bin/chromium
# The report tests read PDFs back with poppler's pdftoppm and pdftotext (Debian's poppler-utils).
PDFTOPPM := /usr/bin/pdftoppm
# The web UI (webui/): `npm ci` when package-lock.json changes, `npm run build` (type check included) when a source does.
NPM          ?= npm
WEBUI_DEPS   := webui/node_modules/.package-lock.json
WEBUI_BUILD  := webui/dist/index.html
WEBUI_SOURCES := $(shell find webui/src webui/public -type f 2>/dev/null) \
	webui/index.html webui/package.json webui/tsconfig.json webui/vite.config.ts

.PHONY: run test install webui proto lint bench clean

run: $(STAMP) $(WEBUI_BUILD)
	$(BIN)/trackmint up

test: $(STAMP) $(CHROMIUM) $(PDFTOPPM) $(WEBUI_BUILD)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

webui: $(WEBUI_BUILD)

$(WEBUI_DEPS): webui/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "building the web UI needs Node.js 20+ and npm (https://nodejs.org)"; exit 1; }
	cd webui && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEBUI_BUILD): $(WEBUI_DEPS) $(WEBUI_SOURCES)
	cd webui && $(NPM) run build --silent
	touch $@

$(STAMP): pyproject.toml proto/pyproject.toml sdk/python/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./proto -e ./sdk/python -e '.[dev]'
	touch $(STAMP)

# Only when missing: installing needs root and Debian's package lists (we run as root on Debian).
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the browser tests need Chromium at $(CHROMIUM)"; exit 1; }
	@echo "installing Debian's chromium for the browser tests"
	@apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

$(PDFTOPPM):
	@command -v apt-get >/dev/null || { echo "the report tests need poppler-utils (pdftoppm, pdftotext)"; exit 1; }
	@echo "installing Debian's poppler-utils for the report tests"
	@apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null

# Regenerate proto/trackmint/v1/*_pb2*.py after editing a .proto file.
proto: $(STAMP)
	$(BIN)/python proto/generate.py

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .trackmint .pytest_cache webui/node_modules webui/dist artifacts
