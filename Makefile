# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Links in emails point where `make run` serves, unless SITE_URL is set.
SITE_URL ?= http://$(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST)):$(PORT)
AXE := node_modules/axe-core/axe.min.js
MJML := node_modules/.bin/mjml

.PHONY: run test lint format clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(INSTALLED)

# Web, worker and beat together on the embedded default (Procfile, run by honcho);
# one Ctrl-C stops all three.
# Development: the development key, any host, plain-HTTP links (production is the default).
run: export DEBUG = 1
run: $(INSTALLED)
	@$(BIN)/python manage.py check_port $(HOST) $(PORT)
	$(BIN)/python manage.py migrate --noinput
	@if $(BIN)/python manage.py help seed_demo >/dev/null 2>&1; then $(BIN)/python manage.py seed_demo; fi
	$(BIN)/python manage.py ensure_admin
	@echo
	@echo "  Letterpress  $(SITE_URL)/"
	@echo "  Admin        $(SITE_URL)/admin/"
	@echo "  Archive      $(SITE_URL)/archive/"
	@echo "  Outbox       $(SITE_URL)/outbox/   (emails land here until ESP is set)"
	@echo
	RUN_ADDRESS=$(HOST):$(PORT) SITE_URL=$(SITE_URL) exec $(BIN)/honcho start -f Procfile

# axe-core for the browser tests' accessibility checks and the MJML compiler
# for strict validation (package.json), on first use.
$(AXE) $(MJML):
	@if command -v npm >/dev/null; then npm install --no-audit --no-fund --silent; \
	else echo "npm not found: the browser and MJML tests will be skipped (apt-get install npm)"; fi

test: $(INSTALLED) | $(AXE) $(MJML)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/test
