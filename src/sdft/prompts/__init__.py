"""The packaged prompt files, and the one way to read them.

The files beside this module are data, not code: distillation templates (``distill_*.yaml``),
evaluation prompts (``eval_*.yaml``) and the judge's prompt (``judge_pairwise.txt``). They are
read through ``importlib.resources``, so they are found the same way in a source checkout, an
installed wheel or a zipped package (a ``__file__`` path is right only in the first two).
"""

from __future__ import annotations

from importlib import resources

from sdft.errors import ConfigError


def names(prefix: str = "") -> list[str]:
    """The prompt files whose name starts with ``prefix``, sorted."""
    return sorted(f.name for f in resources.files(__name__).iterdir()
                  if f.is_file() and f.name.startswith(prefix) and not f.name.endswith(".py"))


def read(name: str) -> str:
    """The text of the packaged prompt file ``name`` (e.g. ``distill_math.yaml``)."""
    f = resources.files(__name__) / name
    if name.endswith(".py") or not f.is_file():
        family = name.split("_", 1)[0] + "_" if "_" in name else ""
        raise ConfigError(f"no packaged prompt {name!r} in sdft/prompts; known: {', '.join(names(family))}")
    return f.read_text(encoding="utf-8")
