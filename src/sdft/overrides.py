"""Command-line overrides of an experiment config: ``KEY.SUB=VALUE`` on top of the file.

    sdft run configs/demo.yaml train.lr=2e-4 seeds=[1,2]

:func:`parse_overrides` reads them; :func:`blame` turns an error the file alone does not have
into one that names the override causing it (the file is fine; the user typed the mistake).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

from sdft.errors import ConfigError, yaml_error


def parse_overrides(items: list[str], where: str = "overrides") -> dict[str, Any]:
    """``key.sub=value`` strings as a nested mapping; values are YAML scalars or flow
    collections (``train.lr=2e-4``, ``seeds=[1,2]``, ``eval.benchmarks=[gsm8k]``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or any(not p for p in key.strip().split(".")):
            raise ConfigError(f"{where}: expected KEY.SUB=VALUE, got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"{where}: {item!r}: the value is {yaml_error(e, position=False)}") from None
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{where}: {item!r} sets a key under {p!r}, which another override set to a value")
        node[leaf] = value
    return out


def blame(error: ConfigError, path: str | Path, overrides: dict[str, Any], origins: dict[str, str] | None,
          load: Callable[[str | Path, dict[str, Any] | None], Any]) -> ConfigError:
    """``error``, which loading ``path`` with ``overrides`` raised, as the user should read it.

    The file's own error where the file alone fails too; otherwise the override that alone gives
    this very error, else each override that fails alone, else all of them, named as ``origins``
    spells them (dotted key -> ``train.lr=abc``, ``--out X``; default ``key=value``). ``load`` is
    the loader that raised (called again, in this error path only)."""
    try:
        load(path, None)
    except ConfigError:
        return error
    given = origins or {k: f"{k}={v}" for k, v in _leaves(overrides)}
    culprits = []
    for key, text in given.items():
        single: dict[str, Any] = {}
        *parents, leaf = key.split(".")
        node, value = single, overrides
        for p in parents:
            node, value = node.setdefault(p, {}), value.get(p, {}) if isinstance(value, dict) else {}
        if not isinstance(value, dict) or leaf not in value:
            continue
        node[leaf] = value[leaf]
        try:
            load(path, single)
        except ConfigError as e:
            culprits.append((text, str(e) == str(error)))
    blamed = ", ".join([t for t, same in culprits if same] or [t for t, _ in culprits] or list(given.values()))
    message = str(error).removeprefix(f"{path}: ")
    return ConfigError(f"{blamed} (command-line override{'s' if ',' in blamed else ''} of {path}): {message}")


def _leaves(mapping: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of every non-mapping value of a nested mapping."""
    out = []
    for k, v in mapping.items():
        out += _leaves(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [(f"{prefix}{k}", v)]
    return out
