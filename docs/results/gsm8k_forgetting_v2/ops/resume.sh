#!/usr/bin/env bash
# Bring a machine to where the secondaries' run can go on, then start it in the background:
# each step is skipped when its result is already there, so this is the command for a fresh
# machine and for one whose $WORK survived alike.
#   - main's virtual environment and the models (`make setup`)
#   - the frozen copy 1b3beab as a worktree at $WORK/frozen_v2c
#   - the carried stages restored into runs/ (only when runs/ has no manifest yet)
#   - the datasets at $WORK/shared (linked from ../shared beside the checkout when elsewhere)
#   - $WORK/bin links to these scripts (the names the sittings' notes use)
#   - `run.sh --only GROUP` started in its own process group, recorded in $WORK/long.pids
# Usage: resume.sh [--no-start]   (the group: the DFT and self-replay seeds, amendment 6's order)
set -euo pipefail
WORK="${WORK:-/work}"
HERE="$(dirname "$(readlink -f "$0")")"
GROUP=dft-s1,replay-s1,dft-s2,replay-s2,dft-s3,replay-s3
RUN=runs/gsm8k_forgetting_v2
cd "$WORK/main"
mkdir -p "$WORK/logs" "$WORK/bin"
[ -x .venv/bin/sdft ] || make setup
if [ ! -d "$WORK/frozen_v2c/src" ]; then
  git worktree prune
  git worktree add --detach "$WORK/frozen_v2c" 1b3beab
fi
[ -f "$RUN/manifest.json" ] || .venv/bin/python scripts/carry_run.py restore docs/results/gsm8k_forgetting_v2/carry "$RUN"
if [ ! -d "$WORK/shared/data" ]; then
  shared="$(readlink -f ../shared)"
  [ -d "$shared/data" ] || { echo "resume.sh: no datasets at $WORK/shared or $shared" >&2; exit 2; }
  ln -sfn "$shared" "$WORK/shared"
fi
ln -sfn "$HERE/cpujob" "$WORK/bin/cpujob"
ln -sfn "$HERE/publish" "$WORK/bin/v2publish"
ln -sfn "$HERE/view" "$WORK/bin/v2view"
ln -sfn "$HERE/rows.py" "$WORK/bin/rows.py"
[ "${1:-}" = --no-start ] && { echo "resume.sh: ready, not started"; exit 0; }
if pgrep -f "sdft run $WORK/frozen_v2c/configs" > /dev/null; then
  echo "resume.sh: the run is already going (pid $(pgrep -f "sdft run $WORK/frozen_v2c/configs" | head -1))" >&2
  exit 1
fi
setsid nohup "$HERE/run.sh" --only "$GROUP" >> "$WORK/logs/v2_sec.log" 2>&1 < /dev/null &
echo $! > "$WORK/long.pids"
echo "resume.sh: started (process group $(cat "$WORK/long.pids")); progress: tail $WORK/logs/v2_sec.log"
