# Two commands for everyone (see README.md): `make lab` and `make test`.
# Both create or reuse the virtual environment in $(VENV) and install the project into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?= notebooks/*.ipynb
# Jupyter refuses to run as root unless told; learners are not root, containers often are.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)

NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: lab test lint unit nbval notebooks figures env clean

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) $(LAB_ARGS) notebooks/

test: lint unit nbval

# Student copies of the notebooks (solutions removed, exercise checks kept) in student/,
# which is not committed.
.PHONY: student
student: $(STAMP)
	$(BIN)/python tools/make_student.py student $(NB)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/actionlint .github/workflows/*.yml

unit: $(STAMP)
	TQDM_DISABLE=1 $(BIN)/pytest tests

nbval: $(STAMP)
	VGAN_PROFILE=$${VGAN_PROFILE:-ci} TQDM_DISABLE=1 MPLBACKEND=module://matplotlib_inline.backend_inline \
	  $(BIN)/pytest $(NBVAL) notebooks

# Re-execute every notebook (or NB=notebooks/03_*.ipynb) in place in the cpu profile.
notebooks: $(STAMP)
	for nb in $(NB); do \
	  echo "== $$nb"; \
	  VGAN_PROFILE=$${VGAN_PROFILE:-cpu} TQDM_DISABLE=1 $(BIN)/jupyter nbconvert --to notebook \
	    --execute --inplace --ExecutePreprocessor.timeout=3600 \
	    --NotebookClient.record_timing=False "$$nb" || exit 1; \
	done

# The README's animated clips and frame grid, from the shipped checkpoints in data/.
figures: $(STAMP)
	$(BIN)/python -m vgan_utils.figures

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
