# The two commands a newcomer runs: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
PG_URL ?= postgres://postgres@127.0.0.1:5432/prakerja

.PHONY: install demo test test-sqlite test-postgres lint messages-check bench messages clean

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

PO := src/prakerja/locale/id/LC_MESSAGES/django.po

lint: install messages-check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every user-facing text has an Indonesian translation, and the compiled catalogue matches it.
messages-check: install
	cd src/prakerja && PRAKERJA_WORK_DIR=$$(mktemp -d) ../../$(BIN)/prakerja makemessages -l id --no-location -v 0
	@test -z "$$(msgattrib --untranslated --no-obsolete $(PO))" || { echo "Untranslated texts:"; msgattrib --untranslated --no-obsolete $(PO); exit 1; }
	@test -z "$$(msgattrib --only-fuzzy --no-obsolete $(PO))" || { echo "Fuzzy translations:"; msgattrib --only-fuzzy --no-obsolete $(PO); exit 1; }
	msgfmt --check -o - $(PO) | cmp -s - $(PO:.po=.mo) || { echo "django.mo is stale: run make messages"; exit 1; }

bench: install
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/import_applicants.py
	$(BIN)/python benchmarks/registration_load.py
	$(BIN)/python benchmarks/draw.py
	$(BIN)/python benchmarks/catalog_search.py
	$(BIN)/python benchmarks/purchases_load.py
	$(BIN)/python benchmarks/purchases_load.py --batch 50 --cards 40000
	$(BIN)/python benchmarks/payouts.py
	$(BIN)/python benchmarks/recheck.py

messages: install
	cd src/prakerja && ../../$(BIN)/prakerja makemessages -l id --no-location && ../../$(BIN)/prakerja compilemessages

clean:
	rm -rf $(VENV) prakerja.sqlite3* staticfiles outbox
