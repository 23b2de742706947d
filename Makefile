# The two entry points of the README. Each one installs what it needs into .venv first.
.PHONY: demo test test-fast lint setup

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/sdft run configs/demo.yaml

test: setup
	.venv/bin/python -m pytest -q --durations=15

test-fast: setup
	.venv/bin/python -m pytest -q -m "not slow"

lint: setup
	.venv/bin/ruff check .
