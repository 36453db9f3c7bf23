# Two commands do everything on a fresh machine with Python 3.11 + pip:
#   make report   regenerate every figure in figures/ from the notebooks
#   make test     unit tests + nbval on every notebook
PYTHON_BOOT ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
export MATPLOTLIBRC := $(CURDIR)/attrition/standard/matplotlibrc

.PHONY: install report html test test-fast bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[notebooks,test]"
	touch $(STAMP)

install: $(STAMP)

report: $(STAMP)
	$(VENV)/bin/attrition report

html: $(STAMP)
	$(VENV)/bin/attrition report --html

# pytest-xdist workers (auto: one per core); a notebook's cells stay on one worker (--dist loadfile)
TEST_WORKERS ?= auto

test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider --durations=25 \
	    -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow" -x -q

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache data/cache report
