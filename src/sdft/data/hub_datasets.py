"""Hub datasets: ``hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT]`` through ``datasets.load_dataset``
(needs the network, so it fails offline with a DataError saying what to do instead); the records
go through the format converters of :mod:`sdft.data.loaders`."""

from __future__ import annotations

import re

from sdft.data.loaders import convert
from sdft.data.records import Example
from sdft.errors import DataError

# Before configs could be named, ``hf:org/name:SPLIT`` named the split; one of these after the
# colon (with no ``#SPLIT``) still does.
_SPLIT_WORDS = ("train", "test", "validation")
_HF_SPEC = re.compile(r"hf:(?P<name>[^:@#]+)(?::(?P<config>[^:@#]*))?(?:@(?P<revision>[^:@#]+))?"
                      r"(?:#(?P<split>[^:@#]+))?")


def parse_hf_spec(spec: str) -> dict[str, str | None]:
    """``hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT]`` as ``{name, config, revision, split}``.

    ``hf:openai/gsm8k:main`` is config ``main`` (split ``train``), ``hf:openai/gsm8k:main@e9f1d3a#test``
    pins a revision (a branch, tag or commit) and takes the test split. For the form this grammar
    grew from, ``hf:org/name:test`` (``train``, ``test`` or ``validation`` after the colon, no
    ``#``) names the split; to load a config that has one of those names, give the split too
    (``hf:org/name:test#train``)."""
    m = _HF_SPEC.fullmatch(spec.strip())
    if not m or m["name"].count("/") != 1 or not all(m["name"].split("/")):
        raise DataError(f"{spec}: expected hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT], e.g. hf:openai/gsm8k:main#test")
    config, split = m["config"] or None, m["split"]
    if split is None and config in _SPLIT_WORDS:
        config, split = None, config
    return {"name": m["name"], "config": config, "revision": m["revision"], "split": split or "train"}


def load_hf(spec: str, fmt: str | None = None, columns: dict | None = None, tags: dict | None = None,
            task: str | None = None) -> list[Example]:
    """Load ``hf:ORG/NAME[:CONFIG][@REVISION][#SPLIT]`` (see :func:`parse_hf_spec`)."""
    p = parse_hf_spec(spec)
    return load_hf_dataset(p["name"], config=p["config"], split=p["split"], revision=p["revision"], fmt=fmt,
                           columns=columns, tags=tags, task=task, where=spec)


def load_hf_dataset(name: str, config: str | None = None, split: str = "train", revision: str | None = None,
                    folder: str | None = None, fmt: str | None = None, columns: dict | None = None,
                    tags: dict | None = None, task: str | None = None, where: str | None = None) -> list[Example]:
    """One split of a hub dataset through ``datasets.load_dataset``; offline (or a wrong name,
    config, split or revision) is a DataError that says so and what to do instead."""
    where = where or f"hf:{name}"
    try:
        import datasets
    except ImportError:
        raise DataError(f"{where}: the `datasets` package is needed for hub datasets; pip install datasets") from None
    what = f"hub dataset {name!r}" + (f" config {config!r}" if config else "") + f" split {split!r}" \
        + (f" revision {revision!r}" if revision else "")
    try:
        ds = datasets.load_dataset(name, name=config, split=split, revision=revision, data_dir=folder)
    except Exception as e:  # the hub raises many types (connection, missing repo, bad config or split)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{where}: could not load {what} (offline, or no such dataset/config/split/revision?): "
                        f"{first}. Download it elsewhere and pass a local file.") from None
    records = ((f"{where}: record {i}", dict(rec)) for i, rec in enumerate(ds))
    prefix = "/".join([name] + ([config] if config else []) + [split])
    return convert(records, fmt, columns, tags, id_prefix=prefix, task=task)
