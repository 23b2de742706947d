#!/usr/bin/env bash
# Seed scores of both packaged models on the whole battery (issue #5's figures), one model at a
# time (two torch jobs on a 2-core machine slow each other 8-20x). Every command resumes.
# Qwen's HumanEval, AdvBench and GSM8K come from the seed evaluation of configs/cpu_repro.yaml.
#   scripts/seed_scores.sh [OUT]      # default runs/seed-scores; then see docs/results/seed_scores.md
set -euo pipefail
out=${1:-runs/seed-scores}
sdft=.venv/bin/sdft

# Qwen2.5-Coder-0.5B: the full OpenFunctions and MultiArith test sets; knowledge on 50 items each.
$sdft eval --model qwen2.5-coder-0.5b --benchmarks openfunction,multiarith --max-batch-size 64 --out "$out/qwen"
$sdft eval --model qwen2.5-coder-0.5b --benchmarks knowledge --limit 50 --out "$out/qwen"

# SmolLM2-135M: 50 items of every benchmark (AdvBench answers capped as in cpu_repro).
$sdft eval --model smollm2-135m --benchmarks gsm8k,multiarith,openfunction,humaneval,advbench,advbench_jailbreak \
    --limit 50 --max-batch-size 64 --answer-lengths advbench=128,advbench_jailbreak=128 --allow-code-execution \
    --out "$out/smollm2"
$sdft eval --model smollm2-135m --benchmarks knowledge --limit 50 --out "$out/smollm2"

# IFEval, all 541 prompts, both models; answers capped at 512 new tokens (lm-eval's default is
# 1,280: SmolLM2 often repeats itself up to the cap, and 1,280 costs ~2.5x the CPU time).
$sdft eval --model smollm2-135m --benchmarks ifeval --answer-lengths ifeval=512 --out "$out/smollm2-ifeval"
$sdft eval --model qwen2.5-coder-0.5b --benchmarks ifeval --answer-lengths ifeval=512 --out "$out/qwen-ifeval"
