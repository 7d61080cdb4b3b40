# Carebot — the two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(PY) -m rasa
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONWARNINGS := ignore
# endpoints.yml names the action server's token; rasa commands need it set even when they call no action.
RASA_ENV = ACTION_SERVER_TOKEN="$$($(PY) -m carebot.tokens ACTION_SERVER_TOKEN action_token)"
# Rasa reads only these folders: data/ also holds triage protocols, patterns and messages that are not Rasa data.
RASA_DATA := data/nlu data/rules data/stories data/responses
# The custom NLU components' code too: what they store when trained depends on it (they fingerprint it for Rasa).
TRAIN_INPUTS := config.yml domain.yml clinic.yml $(shell find $(RASA_DATA) data/patterns data/triage -name '*.yml' 2>/dev/null) \
	$(wildcard carebot/nlu/*.py carebot/lexicon/*.py)
MODEL := models/carebot.tar.gz

.PHONY: seed-demo simulate run run-production test lint validate train pytest rasa-test bench eval eval-triage lock tools clean flows

$(VENV)/.installed: requirements/lock.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --ignore-requires-python --no-deps -r requirements/lock.txt
	$(PY) -m rasa telemetry disable >/dev/null 2>&1 || true
	@touch $@

$(MODEL): $(VENV)/.installed $(TRAIN_INPUTS)
	$(RASA) train --data $(RASA_DATA) --fixed-model-name carebot --out models

## run: train if the data changed, then start backend, action server, Rasa and reminder dispatcher (Ctrl-C stops all)
run: $(MODEL)
	$(PY) -m carebot.launcher

## run-production: the production topology on this machine: PostgreSQL (CAREBOT_DATABASE_URL) and Redis
## (WHATSAPP_REDIS_URL) must be running; CAREBOT_RASA_REPLICAS Rasa replicas and action servers behind nginx
run-production: $(MODEL) tools
	$(PY) -m carebot.production

## simulate: the designers' simulator (docs/simulator.md; refused with CAREBOT_MODE=production): the stack `make run`
## starts, its WhatsApp channel pointed at a local Twilio stand-in, and a phone-shaped chat showing each turn's intent,
## entities, slots, actions and triage on http://127.0.0.1:8090/simulator (the link printed carries the token)
simulate: $(MODEL)
	$(PY) -m carebot.simulator

train: $(MODEL)

## validate: every file a designer edits (clinic, patterns, protocols, messages) and Rasa's own data checks
validate: $(VENV)/.installed
	$(PY) -m carebot.validate
	$(PY) -m carebot.flows --check
	$(RASA) data validate --data $(RASA_DATA) --fail-on-warnings

## lint: ruff (rules and format), import boundaries (pyproject.toml contracts), mypy; scripts/format.sh fixes style
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	nice $(VENV)/bin/mypy

## flows: the rules, forms and triage protocols as diagrams in docs/flows/ (DOT and SVG); `make test` checks that the
## committed ones match the YAML
FLOW_INPUTS := domain.yml $(wildcard data/rules/*.yml data/triage/*.yml data/patterns/*.yml carebot/flows/*.py)
flows: docs/flows/README.md

docs/flows/README.md: $(VENV)/.installed $(FLOW_INPUTS)
	@bash scripts/install_graphviz.sh
	$(PY) -m carebot.flows --render

tools: $(VENV)/.installed
	@for script in scripts/install_*.sh; do bash "$$script" || exit 1; done

pytest: $(VENV)/.installed $(MODEL) tools
	$(PY) -m pytest -q

rasa-test: $(MODEL)
	$(RASA_ENV) $(RASA) test core --stories tests/stories --model $(MODEL) --fail-on-prediction-errors --out results

## test: lint, designer-file validation, rasa data validate (zero warnings), pytest, rasa test on the test stories
test: lint validate pytest rasa-test

## bench: speed figures (stock `rasa init` bot vs Carebot, backend, reminders) into docs/benchmarks.md
bench: $(MODEL) tools
	BENCH_POSTGRES_URL="$${BENCH_POSTGRES_URL:-$${TEST_POSTGRES_URL:-}}" $(PY) -m bench

## eval: booking, declining and symptom figures on external corpora (EVAL_DIR, default ../shared/eval) through
## the real bot on free ports, into docs/benchmarks.md; exits 1 when a target is missed
eval: $(MODEL)
	$(PY) -m evaluation

## eval-triage: tests/triage_cases.csv and the frozen holdout tests/triage_holdout.csv through the real bot over
## REST (issue 6 contract), follow-ups answered "I'm not sure" then "no"; exits 1 when a target is missed
eval-triage: $(MODEL)
	$(PY) -m evaluation.triage

## seed-demo: 500 scripted patients talk to the real bot (the launcher's stack on free ports, over the databases
## `make run` uses), for /staff/dashboard (refused with CAREBOT_MODE=production); each conversation is then moved
## back to its scripted day of the last 30 (docs/dashboard.md); prints the seed's own count of the figures. The fast
## direct-write seed (the figure tests' fixture): `python -m carebot.dashboard seed-demo`
seed-demo: $(MODEL)
	$(PY) -m bench.seed_demo --conversations 500 --days 30

## lock: re-resolve requirements/lock.txt for Python 3.10 (see requirements/lock.sh)
lock:
	requirements/lock.sh

clean:
	rm -rf models results .rasa
