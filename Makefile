# The two commands a newcomer runs: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
PG_URL ?= postgres://postgres@127.0.0.1:5432/prakerja

.PHONY: install demo test test-sqlite test-postgres lint bench messages clean

$(BIN)/.installed: pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements/dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/prakerja demo

test: test-sqlite test-postgres

test-sqlite: install
	$(BIN)/pytest

test-postgres: install
	PRAKERJA_DATABASE_URL=$(PG_URL) $(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/run.py

messages: install
	cd src/prakerja && ../../$(BIN)/prakerja makemessages -l id --no-location && ../../$(BIN)/prakerja compilemessages

clean:
	rm -rf $(VENV) prakerja.sqlite3* staticfiles outbox
