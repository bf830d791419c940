# One target per job; CI (.ci/run) and people use the same ones.
# Each target installs what it needs into .venv first, so every one works on a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DATA ?= .demo-data
# Test files run in parallel, one file per worker at a time (module fixtures start once), at most four.
PYTEST_ARGS ?= -n auto --maxprocesses 4 --dist loadfile

.PHONY: demo test test-servers check bench clean portal wheel

# Re-installs only when the dependency list changed.
$(VENV)/.stamp-install: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.stamp-install portal
	$(BIN)/fieldhub up --demo --data-dir $(DEMO_DATA)

# The web portal (ui/, TypeScript) built into the Python package; rebuilt when older than its sources.
# Needs Node.js 20+ and npm; installs the portal's packages from its lock file.
PORTAL := cloud/portal/dist/index.html
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/tsconfig.json
ui/node_modules/.package-lock.json: ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
$(PORTAL): ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && npm run --silent build -- --logLevel warn
portal: $(PORTAL)

# A wheel that serves the portal without Node (the build is package data).
wheel: $(VENV)/.stamp-install portal
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .

# Real servers (and the browser) the tests start, as command:Debian-package, installed when missing.
TEST_SERVERS := nats-server:nats-server mosquitto:mosquitto mosquitto_pub:mosquitto-clients \
	java:default-jre-headless mvn:maven chromium:chromium node:nodejs npm:npm \
	podman:podman runc:runc busybox:busybox-static catatonit:catatonit
test-servers:
	@missing=""; for s in $(TEST_SERVERS); do \
		PATH="$$PATH:/usr/sbin" command -v $${s%%:*} >/dev/null || missing="$$missing $${s#*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing test servers:$$missing"; \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); export DEBIAN_FRONTEND=noninteractive; \
		$$sudo apt-get install -y -q$$missing || { $$sudo apt-get update -q && $$sudo apt-get install -y -q$$missing; }; \
	fi

test: $(VENV)/.stamp-install test-servers portal
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(VENV)/.stamp-install ui/node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd ui && npm run --silent typecheck && npm run --silent lint

# Ingest (single readings, then batches of 100) and the edge agent; each run measures its own baseline.
bench: $(VENV)/.stamp-install test-servers portal
	$(BIN)/fieldhub bench ingest --messages 20000
	$(BIN)/fieldhub bench ingest --messages 2000 --batch 100
	$(BIN)/fieldhub bench ingest --broker mosquitto --publishers 4 --messages 30000 --paced --kafka --paho
	$(BIN)/fieldhub bench ingest --broker mosquitto --publishers 4 --messages 30000 --replicas 1
	$(BIN)/fieldhub bench ingest --broker mosquitto --publishers 4 --messages 20000 --batch 100 --paced --kafka
	$(BIN)/fieldhub bench ingest --broker mosquitto --publishers 4 --messages 20000 --batch 100 --replicas 1
	$(BIN)/fieldhub bench agent
	$(BIN)/fieldhub bench placement
	$(BIN)/fieldhub bench link
	$(BIN)/fieldhub bench link --app stdlib
	$(BIN)/fieldhub bench apps
	$(BIN)/fieldhub bench logs
	$(BIN)/fieldhub bench failover
	$(BIN)/fieldhub bench portal

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .mypy_cache .ruff_cache .hypothesis
