#!/usr/bin/env bash
# Does this checkout's code compute what an older copy computed? For a run whose later arms use
# newer code than its earlier ones (GSM8K v2: primary arms frozen at 74cb8aa, secondaries later).
#
#   scripts/same_computation.sh OLD_SRC TRAIN_DIR [OUT]       (from the newer checkout's root;
#   PY=/path/to/venv/bin/python where it has no .venv of its own; TRAIN_DIR's recorded data
#   paths are read relative to the folder its run was launched from)
#
# 1. Training: re-runs TRAIN_DIR's fine-tune (its train_config.json) with this checkout's code
#    until 3 steps are logged, and compares them with TRAIN_DIR/train_log.jsonl (loss, grad norm,
#    tokens: every digit).
# 2. Generation: the config's model, both codes, on the same 8 items of each dev slice (same
#    batches), answers compared. Dev slices only: EVAL_DATA (default: GSM8K v2's) names them.
# Prints one line per check and exits non-zero when anything differs. Nothing else may use the
# CPU meanwhile (pause a long run: /work/bin/cpujob style SIGSTOP).
set -euo pipefail
OLD_SRC=$(realpath "$1"); TRAIN_DIR=$(realpath "$2"); OUT=${3:-$(mktemp -d)}
EVAL_DATA=${EVAL_DATA:-"advbench=advbench[400:520] gsm8k=gsm8k:train[-300:]"}
PY=${PY:-.venv/bin/python}
rm -rf "$OUT/train" "$OUT/new" "$OUT/old"; mkdir -p "$OUT"
# The run recorded its paths relative to the folder it was launched from: TRAIN_DIR minus the
# recorded `out` (TRAIN_DIR as given, else its real path). Resolved here, in the foreground, so a
# run folder that moved stops with a message instead of a training job that dies unseen.
"$PY" - "$2" "$TRAIN_DIR" "$OUT/train_config.json" <<'PY'
import json, sys
from pathlib import Path
given, real, dest = Path(sys.argv[1]).absolute(), Path(sys.argv[2]), Path(sys.argv[3])
cfg = json.loads((real / "train_config.json").read_text())["config"]
out = Path(cfg["out"])
roots = [] if out.is_absolute() else [d.parents[len(out.parts) - 1] for d in (given, real)
                                      if len(d.parts) > len(out.parts) and d.parts[-len(out.parts):] == out.parts]
for key in ("data", "replay_data"):
    path = cfg.get(key)
    if not path or Path(path).is_absolute() or Path(path).exists():
        continue
    found = [r / path for r in roots if (r / path).exists()]
    if not found and "/" not in path:  # a registry name (replay_data: dolly), not a file
        continue
    if not found:
        sys.exit(f"{real / 'train_config.json'}: config.{key} {path!r} is relative to the folder the run was "
                 f"launched from, and it is not under {' or '.join(map(str, roots)) or 'a folder that TRAIN_DIR names'}")
    cfg[key] = str(found[0])
dest.write_text(json.dumps(cfg))
PY
PYTHONPATH=$PWD/src "$PY" - "$OUT/train_config.json" "$OUT/train" > "$OUT/train.log" 2>&1 <<'PY' &
import json, sys
from sdft.train.config import TrainConfig
from sdft.train.trainer import run_train
run_train(TrainConfig(**{**json.load(open(sys.argv[1])), "out": sys.argv[2]}))
PY
pid=$!
until [ "$(wc -l 2>/dev/null < "$OUT/train/train_log.jsonl" || echo 0)" -ge 3 ]; do
  kill -0 $pid 2>/dev/null || { echo "training stopped before 3 steps (see $OUT/train.log)"; exit 1; }; sleep 2
done
kill $pid; wait $pid 2>/dev/null || true
model=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['config']['model'])" "$TRAIN_DIR/train_config.json")
benchmarks=""; data=()
for spec in $EVAL_DATA; do benchmarks+="${benchmarks:+,}${spec%%=*}"; data+=(--benchmark-data "$spec"); done
for which in new old; do
  src=$PWD/src; [ $which = old ] && src=$OLD_SRC
  PYTHONPATH=$src "$(dirname "$PY")/sdft" eval --model "$model" --benchmarks "$benchmarks" "${data[@]}" --dtype float32 \
    --max-new-tokens 384 --answer-lengths advbench=128 --limit 8 --out "$OUT/$which" --no-progress > "$OUT/$which.log" 2>&1
done
"$PY" - "$TRAIN_DIR" "$OUT" <<'PY'
import json, sys
from pathlib import Path
train, out = Path(sys.argv[1]), Path(sys.argv[2])
rows = lambda p: [json.loads(x) for x in p.read_text().splitlines()]
keys = ("loss", "grad_norm", "tokens_seen")
old, new = rows(train / "train_log.jsonl")[:3], rows(out / "train" / "train_log.jsonl")[:3]
same = [tuple(o[k] for k in keys) == tuple(n[k] for k in keys) for o, n in zip(old, new)]
print(f"training: {sum(same)} of 3 logged steps identical (loss, grad norm, tokens)")
ok = all(same)
for b in sorted(p.name for p in (out / "new").iterdir() if p.is_dir()):
    a, f = (sorted(rows(out / w / b / "predictions.jsonl"), key=lambda r: r["id"]) for w in ("new", "old"))
    n = sum(x["id"] == y["id"] and x["predict"] == y["predict"] for x, y in zip(a, f))
    print(f"generation, {b}: {n} of {len(a)} answers identical")
    ok = ok and n == len(a) == len(f)
sys.exit(0 if ok else 1)
PY
