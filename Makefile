# The two commands of the README, and a few more for developers. Needs only python3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format messages worker beat clean help bench fuzz bandit

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed  ## install, migrate, load the demo company and serve on http://127.0.0.1:8000
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_claims
	@echo "Baoxiao is starting on http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	@# Without Redis the periodic jobs (OA retries, reminders, directory pulls) run in embedded_beat beside it.
	export BAOXIAO_BASE_URL=$${BAOXIAO_BASE_URL:-http://$(HOST):$(PORT)}; \
	if [ -z "$$REDIS_URL" ]; then $(BIN)/python manage.py embedded_beat & beat=$$!; trap 'kill $$beat 2>/dev/null' EXIT INT TERM; fi; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.installed-test  ## install the test tools, then ruff and pytest (PostgreSQL when DATABASE_URL is set)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test  ## ruff and bandit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) bandit

bandit: $(VENV)/.installed-test  ## security lint of the application packages (medium severity and above)
	$(BIN)/bandit -q -r config org reimbursement approvals audit oa_bridge reports -c pyproject.toml -ll

fuzz: $(VENV)/.installed-test  ## schemathesis over the whole API for each role, FUZZ_MAX_EXAMPLES (100) cases per operation
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-100} FUZZ_SUMMARY=1 $(BIN)/python -m pytest tests/fuzz/test_api_fuzz.py -p no:cacheprovider -q $(PYTEST_ARGS)

format: $(VENV)/.installed-test  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: $(VENV)/.installed  ## refresh the translation catalogues and compile them (needs gettext)
	$(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*' --ignore 'test-artifacts/*'
	$(BIN)/python manage.py compilemessages --ignore '.venv/*'

worker: $(VENV)/.installed  ## a Celery worker (needs REDIS_URL)
	$(BIN)/celery -A config worker --loglevel INFO

beat: $(VENV)/.installed  ## Celery beat (needs REDIS_URL)
	$(BIN)/celery -A config beat --loglevel INFO --schedule var/celerybeat-schedule

bench: $(VENV)/.installed  ## run every benchmark in bench/ (each builds its own throwaway database)
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

.PHONY: faults load
EVENTS ?= 2000
MINUTES ?= 10

faults: $(VENV)/.installed  ## outbox events through network faults, worker kills, a Redis restart, a dying web process (EVENTS=2000)
	$(BIN)/python -m bench.faults --events $(EVENTS)

load: $(VENV)/.installed  ## 50 API users with a slow OA, then with the OA down (MINUTES=10 each; installs the load extra)
	$(BIN)/pip install --quiet -e '.[load]'
	$(BIN)/python -m bench.load --minutes $(MINUTES)

clean:  ## remove the virtual environment and local data (var/)
	rm -rf $(VENV) var
