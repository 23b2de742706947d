#!/usr/bin/env bash
# The secondaries' launcher: main's venv, the frozen copy's code and config (1b3beab in
# $WORK/frozen_v2c). stdout, with the closing score table, goes to a sealed log.
# Usage: run.sh --only dft-s1,replay-s1,dft-s2,replay-s2,dft-s3,replay-s3
WORK="${WORK:-/work}"
cd "$WORK/main" || exit 1
PYTHONPATH="$WORK/frozen_v2c/src" .venv/bin/sdft run "$WORK/frozen_v2c/configs/gsm8k_forgetting_v2.yaml" "$@" \
  >> "$WORK/logs/v2_sealed_stdout.log" || exit $?
