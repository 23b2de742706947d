"""Stage configs: one dataclass per stage is the only schema.

CLI flags and YAML keys are the dataclass's fields; precedence is flag > YAML > default; an
unknown key is an error that names it. Each stage's dataclass lives next to its stage (e.g.
``sdft.distill.DistillConfig``) and documents its fields once, in its docstring, as lines of
the form ``name: help``; :func:`add_arguments` turns those into ``--name`` flags. A field that
was renamed keeps its old key and flag readable through the class's ``RENAMED`` mapping
(old name -> field).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sdft.errors import ConfigError as ConfigError  # re-exported: the old import path keeps working
from sdft.errors import yaml_error

T = TypeVar("T")


def field_help(cls: type) -> dict[str, str]:
    """``name: help`` lines from the class docstring; a help text may go on over the lines that
    follow it when they are indented deeper than its name (so docstrings keep a line length)."""
    out: dict[str, str] = {}
    name, indent = None, 0
    for line in (cls.__doc__ or "").splitlines():
        m = re.match(r"(\s*)([a-z_][a-z0-9_]*):\s+(.*)", line)
        depth = len(line) - len(line.lstrip())
        if name and line.strip() and depth > indent:
            out[name] += " " + line.strip()
        elif m:
            name, indent = m.group(2), len(m.group(1))
            out[name] = m.group(3).strip()
        else:
            name = None
    return out


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _coerce(value: Any, tp: Any, name: str, where: str) -> Any:
    base, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: `{name}` must not be null")
    origin = typing.get_origin(base)
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if base in (int, float):
            if isinstance(value, bool):
                raise ValueError
            if base is int and isinstance(value, float) and not value.is_integer():
                raise ValueError  # int(3.7) would silently be 3
            return base(value)
        if base is str:
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
        if origin in (list, tuple):
            (inner, *_) = typing.get_args(base) or (str,)
            value = _flow(value)
            if isinstance(value, str):
                value = [v for v in (s.strip() for s in value.split(",")) if v]
            if not isinstance(value, (list, tuple)):
                raise ValueError
            items = [_coerce(v, inner, name, where) for v in value]
            return tuple(items) if origin is tuple else items
        if origin is dict or base is dict:
            value = _flow(value)
            if isinstance(value, str):  # a flag
                value = parse_pairs(value)
            if not isinstance(value, dict):
                raise ValueError
            _, inner = typing.get_args(base) or (str, Any)
            if inner is Any:
                return dict(value)
            return {k: _coerce(v, inner, f"{name}.{k}", where) for k, v in value.items()}
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError):  # (int(.inf) overflows)
        raise ConfigError(f"{where}: `{name}` expects {getattr(base, '__name__', base)}, got {value!r}") from None
    return value


def _flow(value: Any) -> Any:
    """A flag's value written as a YAML flow list or mapping (``[sdft, dft]``, ``{gsm8k: 5}``, as
    the YAML key takes it) read as one; any other value as it is. ValueError for bad YAML."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            raise ValueError(f"invalid YAML: {value!r}") from None
    return value


def parse_pairs(text: str) -> dict[str, str]:
    """``"key=value,key=value"`` as a dict; ValueError when an item has no key or no ``=``."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if any(not sep or not k.strip() for k, sep, _ in pairs):
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    return {k.strip(): v.strip() for k, _, v in pairs}


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "config") -> T:
    """Build ``cls`` from a mapping; unknown keys and wrong types are errors naming the key."""
    data = dict(data or {})
    for before, now in getattr(cls, "RENAMED", {}).items():  # old keys still read
        if before in data:
            if now in data:
                raise ConfigError(f"{where}: `{before}` is the old name of `{now}`; give only `{now}`")
            data[now] = data.pop(before)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                          f"known keys: {', '.join(sorted(names))}")
    kwargs = {}
    for k, v in data.items():
        sub = hints[k]
        if dataclasses.is_dataclass(sub) and isinstance(v, dict):
            kwargs[k] = from_dict(sub, v, f"{where}.{k}")
        else:
            kwargs[k] = _coerce(v, sub, k, where)
    return cls(**kwargs)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first: int):
        super().__init__(f"line {line}: key {key!r} is given twice (first on line {first})")
        self.key, self.line, self.first = key, line, first


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a mapping giving one key twice is an error: YAML's
    last-one-wins would silently drop the first value (``seed: 42`` ... ``seed: 43``)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: its keys may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in first:
                        raise _DuplicateKey(key, line, first[key])
                except TypeError:  # an unhashable key: PyYAML's own error says so below
                    continue
                first[key] = line
        return super().construct_mapping(node, deep)


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except _DuplicateKey as e:
        raise ConfigError(f"{path}: {e}; give it once") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: {yaml_error(e)}") from None
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file (name a .yaml file in it)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the config: {getattr(e, 'strerror', None) or e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def merge_mappings(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``; mappings merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge_mappings(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_config(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config's mapping with its ``base:`` chain resolved (``base`` is a path relative to the
    config that names it; the child's keys win, sections merge key by key)."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(f"{path}: `base` chain loops: {' -> '.join(map(str, _seen + (path,)))}")
    data = load_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: `base` must be a path to another config, got {base!r}")
    return merge_mappings(read_config(path.parent / base, _seen + (path.resolve(),)), data)


def add_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (),
                  required: tuple[str, ...] = ()) -> None:
    """Add one ``--field`` flag per dataclass field (default None: unset flags do not override).

    A field that is itself a dataclass (``generation: GenerationConfig``) contributes its own
    fields as flat flags (``--dtype``, ``--backend``); their values land in that section."""
    hints = typing.get_type_hints(cls)
    own = {f.name for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            sub = hints[f.name]
            for g in dataclasses.fields(sub):
                flag = g.name if g.name not in own else f"{f.name}_{g.name}"
                _add_flag(parser, sub, g, flag, dest=f"{f.name}.{g.name}")
            continue
        _add_flag(parser, cls, f, f.name, dest=f.name, required=f.name in required)
    for before, now in getattr(cls, "RENAMED", {}).items():  # the old flag, not shown in --help
        if now not in skip:
            parser.add_argument("--" + before.replace("_", "-"), dest=now, default=None, help=argparse.SUPPRESS)


def _add_flag(parser, cls: type, f: dataclasses.Field, name: str, dest: str, required: bool = False) -> None:
    base, _ = _unwrap_optional(typing.get_type_hints(cls)[f.name])
    flag = "--" + name.replace("_", "-")
    default = f.default if f.default is not dataclasses.MISSING else (
        f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
    help_text = field_help(cls).get(f.name, "")
    if default not in (None, "", [], ()):
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        help_text += f" (default: {shown})"  # a list as the flag takes it: a,b
    help_text = help_text.replace("%", "%%")  # argparse %-formats help: "95 % CI" would raise
    if base is bool:
        parser.add_argument(flag, dest=dest, default=None, action=argparse.BooleanOptionalAction, help=help_text)
    else:
        parser.add_argument(flag, dest=dest, default=None, required=required, metavar=name.upper(),
                            help=help_text)


def from_args(cls: type[T], args: argparse.Namespace, yaml_data: dict[str, Any] | None = None,
              where: str = "config") -> T:
    """Merge flags over YAML over defaults; flags left unset (None) do not override."""
    merged = dict(yaml_data or {})
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            section = dict(merged.get(f.name) or {})
            for g in dataclasses.fields(hints[f.name]):
                v = getattr(args, f"{f.name}.{g.name}", None)
                if v is not None:
                    section[g.name] = v
            if section:
                merged[f.name] = section
            continue
        v = getattr(args, f.name, None)
        if v is not None:
            merged[f.name] = v
    return from_dict(cls, merged, where)
