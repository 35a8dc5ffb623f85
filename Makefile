# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck imports unit chromium safety bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

## Serve the gateway on http://127.0.0.1:8080 with the embedded SQLite store and the demo configuration.
run: $(STAMP)
	$(BIN)/gateway db upgrade
	$(BIN)/gateway serve

## The whole suite and every gate.
test: lint typecheck imports unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP) chromium
	$(BIN)/pytest -q

# Headless Chromium loads the summary page as served (tests/security/test_summary_page.py);
# the suite never skips that test, so a fresh machine gets it here.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "The tests need Chromium: run 'sudo apt-get install -y chromium' and try again." >&2; \
	    exit 1; \
	  fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	}

## The clinical safety case: check the hazard log's evidence and render docs/safety/safety-case.md.
## Fails on a missing test, pending evidence (SAFETY_ALLOW_PENDING=1 to allow) or a stale report.
safety: $(STAMP)
	$(BIN)/python -m safety_case

## Benchmarks (not part of `make test`): see bench/README.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
