# The two commands a fresh machine needs: `make serve` and `make test`.
.PHONY: serve test build validate lint

serve:
	./scripts/bootstrap
	.venv/bin/kechuang serve

test:
	./scripts/bootstrap --test
	.venv/bin/ruff check build plugins tests
	.venv/bin/lint-imports
	.venv/bin/pytest -n 2 --dist loadfile

build:
	./scripts/bootstrap
	.venv/bin/kechuang build

validate:
	./scripts/bootstrap
	.venv/bin/kechuang validate

lint:
	.venv/bin/ruff check build plugins tests
	.venv/bin/lint-imports
