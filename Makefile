# Two commands: `make up` runs the whole federation on embedded servers; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install up test lint typecheck browser bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[embedded,dev]'
	touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/studio up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Browser tests drive Debian's chromium with its chromedriver; installed here when missing (as root).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)

test: install lint typecheck browser
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.write_path
	$(BIN)/python -m bench.processors
	$(BIN)/python -m bench.compile
	$(BIN)/python -m bench.aggregate
	$(BIN)/python -m bench.keep_up
	$(BIN)/python -m bench.federation
	$(BIN)/python -m bench.streaming
	$(BIN)/python -m bench.exports
	$(BIN)/python -m bench.studio
	$(BIN)/python -m bench.cluster
	$(BIN)/python -m bench.day --writers 10 --minutes 1 --settle-minutes 5

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
