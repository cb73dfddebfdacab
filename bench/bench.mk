# Benchmarks (issue 6): included from the root Makefile (`-include bench/bench.mk`).
# Needs the local RabbitMQ (RABBITMQ_URL, rabbitmqctl) and PostgreSQL (POSTGRES_ADMIN_URL).

BENCH_FLAGS := $(if $(filter 1 true yes,$(QUICK)),--quick,)

.PHONY: bench
bench: install ## Benchmarks vs raw baselines: prints a table, writes bench/results/latest.json (QUICK=1: <1 min)
	$(PYTHON) -m bench $(BENCH_FLAGS) $(BENCH_ARGS)
