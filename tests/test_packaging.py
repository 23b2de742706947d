"""The install story: a free distribution name, floors, and the lock scripts/setup.sh installs from."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements" / "lock.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_norm(name)] = version.strip()
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(reqs: list[str]) -> list[str]:
    return [_norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in reqs]


def test_distribution_name_and_command():
    project = _project()
    assert project["name"] == "sdft-toolkit"  # `sdft` on PyPI is another project
    assert project["scripts"] == {"sdft": "sdft.cli:main"}


def test_every_dependency_is_pinned_in_the_lock_and_setup_uses_it():
    project, lock = _project(), _lock()
    extras = project["optional-dependencies"]
    wanted = _names(project["dependencies"]) + _names(extras["dev"]) + _names(extras["tensorboard"])
    missing = [n for n in wanted if n != "sdft-toolkit" and n not in lock]
    assert not missing, f"not pinned in requirements/lock.txt: {missing}"
    assert lock["torch"] == "2.13.0"  # the public version: the same line admits a CUDA build
    setup = (REPO / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "-c requirements/lock.txt" in setup and "torch==2.13.0" in setup
    assert '-nt requirements/lock.txt' in setup  # a changed lock re-runs the install
    # PyPI's Linux torch wheel is the CUDA build: setup.sh asks PyTorch's CPU index first (or TORCH_INDEX_URL).
    assert '--index-url https://download.pytorch.org/whl/cpu' in setup and '"$TORCH_INDEX_URL"' in setup


def test_installed_runtime_dependencies_are_the_locked_versions():
    """The environment the tests run in is the one the lock describes (setup.sh installs it)."""
    lock = _lock()
    off = {}
    for name in _names(_project()["dependencies"]):
        try:
            have = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:  # a runtime dependency setup.sh did not install
            have = None
        if have != lock[name]:
            off[name] = (have, lock[name])
    assert not off, f"installed vs locked: {off}; run scripts/update_lock.sh after an upgrade"
