# Two commands do all the set-up:  `make run` (the desktop app)  and  `make test`.
# Each creates .venv and installs camvideo with its dev extras when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint docs bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "camvideo needs Python 3.11+")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py $(ARGS)

# two pytest-xdist workers (a 2-core CI); tests/conftest.py sends whole files to them, the Ray files together
TEST_WORKERS ?= 2

test: lint docs
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet   # a broken link or anchor fails

bench: $(STAMP)
	$(BIN)/camvideo bench $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache site
