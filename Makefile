# Two entry points for a newcomer: `make demo` and `make test`.
# Each creates .venv if missing and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BACKENDS ?= tensorflow jax torch
PYTEST_ARGS ?=

.PHONY: demo test test-deploy bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned, so pip takes the local CPU wheel instead of a CUDA build.
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/keras-remediation demo

# The suite once per backend; fails if any backend fails.
test: $(VENV)/.installed
	@status=0; \
	for backend in $(BACKENDS); do \
	  echo "=== KERAS_BACKEND=$$backend ==="; \
	  KERAS_BACKEND=$$backend $(PY) -m pytest $(PYTEST_ARGS) || status=1; \
	done; \
	exit $$status

# The end-to-end deployment test alone (SuperLink + 2 SuperNodes over TLS with node
# authentication, 2 to 3 minutes); `make test` runs it once, in its JAX pass.
test-deploy: $(VENV)/.installed
	KERAS_BACKEND=jax $(PY) -m pytest tests/federated/test_deployment.py $(PYTEST_ARGS)

bench: $(VENV)/.installed
	@for backend in $(BACKENDS); do \
	  KERAS_BACKEND=$$backend $(PY) benchmarks/min_diff_step.py; \
	  KERAS_BACKEND=$$backend $(PY) benchmarks/bc_step.py; \
	  KERAS_BACKEND=$$backend $(PY) benchmarks/counterfactual_step.py; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
