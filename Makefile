# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(INSTALLED)

# Web, worker and beat together on the embedded default; one Ctrl-C stops all three.
run: $(INSTALLED)
	$(BIN)/python manage.py migrate --noinput
	@if $(BIN)/python manage.py help seed_demo >/dev/null 2>&1; then $(BIN)/python manage.py seed_demo; fi
	$(BIN)/python manage.py ensure_admin
	@echo
	@echo "  Letterpress  http://$(HOST):$(PORT)/"
	@echo "  Admin        http://$(HOST):$(PORT)/admin/"
	@echo "  Archive      http://$(HOST):$(PORT)/archive/"
	@echo "  Outbox       http://$(HOST):$(PORT)/outbox/   (emails land here until ESP is set)"
	@echo
	@trap 'kill 0' INT TERM; \
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2 & \
	$(BIN)/celery -A config beat --loglevel=INFO & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT) --noreload & \
	wait

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/test
