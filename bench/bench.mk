# Benchmarks: included from the root Makefile (`-include bench/bench.mk`).
# Needs the local RabbitMQ (RABBITMQ_URL, rabbitmqctl) and PostgreSQL (POSTGRES_ADMIN_URL).
# `make lint` covers bench/ already (bench/ruff.toml extends the root rules).

BENCH_FLAGS := $(if $(filter 1 true yes,$(QUICK)),--quick,)

.PHONY: bench
bench: install ## Benchmarks vs raw baselines: prints a table, writes bench/results/latest.json (QUICK=1: <1 min)
	$(PYTHON) -m bench $(BENCH_FLAGS) $(BENCH_ARGS)

# pytest exits 5 when it collects nothing; make treats that as the failure it is.
.PHONY: test-bench
test-bench: install ## Smoke test of the bench: every section starts and reports, at tiny sizes
	$(PYTHON) infra/dev/preflight.py
	cd bench && ../$(PYTEST) -q

.PHONY: typecheck-bench
typecheck-bench: install ## mypy on the bench (bench/mypy.ini)
	cd bench && ../$(BIN)/mypy
