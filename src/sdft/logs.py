"""Logging for every command: the console, and ``run.log`` in the command's output folder.

The ``sdft`` loggers (``logging.getLogger(__name__)`` in each module) go to the console at INFO;
``-v`` shows DEBUG, ``-q`` only warnings and errors (the flags may stand anywhere on the command
line). Other libraries' records reach the console from WARNING up, as Python's default does.
Results a command prints (tables, summaries such as ``sdft run``'s closing :func:`print_summary`)
are ``print`` output, not log records, and are not silenced by ``-q``.

Every command that writes an output folder appends its log to ``FOLDER/run.log`` (INFO, or
DEBUG with ``-v``): one header line per invocation with the time, the command line, the git
hash and the version, then the records with time stamps. The folder is the command's ``--out``
(its YAML's ``out``, or the command's default), the run folder for ``sdft run``, the folder of
the output file for ``sdft generate``. ``sdft report`` and ``analyze`` keep no log when a folder
named as a run folder is not one (no manifest.json): they refuse it and make no folder, in it or
elsewhere. ``sdft score``, ``compare``, ``data``, ``models``, ``ls`` and ``validate`` write no
folder and no log file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

FLAGS = {"-v": 1, "--verbose": 1, "-vv": 2, "-q": -1, "--quiet": -1}
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MARK = "_sdft_handler"


def pop_verbosity(argv: list[str]) -> tuple[list[str], int]:
    """``argv`` without the -v/-q flags, and the verbosity they add up to (0 = INFO)."""
    rest, level = [], 0
    for a in argv:
        if a in FLAGS:
            level += FLAGS[a]
        else:
            rest.append(a)
    return rest, level


class _ConsoleFilter(logging.Filter):
    def __init__(self, sdft_level: int):
        super().__init__()
        self.sdft_level = sdft_level

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "file_only", False):
            return False
        ours = record.name == "sdft" or record.name.startswith("sdft.")
        if ours:
            return record.levelno >= self.sdft_level
        return record.levelno >= logging.WARNING and not _printed_on_the_way(record.name)


def _printed_on_the_way(name: str) -> bool:
    """Whether a library's record already reached a console handler of its own before the root's
    (huggingface_hub and datasets attach one to their loggers and still propagate): the console
    then shows it once, not again with our prefix. run.log keeps it either way."""
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None and logger is not logging.getLogger():
        if any(type(h) is logging.StreamHandler and not getattr(h, _MARK, False) for h in logger.handlers):
            return True
        if not logger.propagate:
            break
        logger = logger.parent
    return False


def setup(command: str, args: argparse.Namespace | None = None, verbosity: int = 0,
          argv: list[str] | None = None) -> Path | None:
    """Console handler at the verbosity's level and, when the command has an output folder, a
    ``run.log`` file handler there; returns the log file (or None). Replaces the handlers an
    earlier call installed (tests run several commands in one process)."""
    teardown()
    ours = logging.getLogger("sdft")
    ours.setLevel(logging.DEBUG)
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter(f"[sdft {command}] %(message)s"))
    console.addFilter(_ConsoleFilter(level))
    handlers: list[logging.Handler] = [console]
    folder = output_dir(command, args) if args is not None else None
    path = None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "run.log"
        try:
            with path.open("a", encoding="utf-8") as f:
                f.write(header(command, argv))
        except OSError as e:  # a full disk fails on close, with no file name: give it one
            raise OSError(e.errno, e.strerror, str(path)) from e
        fh = _QuietFileHandler(path, encoding="utf-8")
        fh.setFormatter(logging.Formatter(FILE_FORMAT))
        fh.setLevel(logging.DEBUG if verbosity > 0 else logging.INFO)
        handlers.append(fh)
    for h in handlers:
        setattr(h, _MARK, True)
        logging.getLogger().addHandler(h)
    return path


class _QuietFileHandler(logging.FileHandler):
    """run.log's handler: a record it cannot write (a full disk) is dropped, so logging's own
    traceback does not bury the one-line error the console is about to show."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def teardown() -> None:
    """Remove (and close) the handlers :func:`setup` installed."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _MARK, False):
            root.removeHandler(h)
            h.close()


def file_only(message: str, level: int = logging.ERROR) -> None:
    """A record for run.log that the console does not show (the caller prints it its own way)."""
    logging.getLogger("sdft").log(level, "%s", message, extra={"file_only": True})


def header(command: str, argv: list[str] | None) -> str:
    from sdft import __version__
    from sdft.runs import git_hash

    line = " ".join(argv if argv is not None else [command])
    return f"===== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} sdft {line} (git {git_hash()}, sdft {__version__}, " \
           f"cwd {Path.cwd()})\n"


def _yaml_out(args: argparse.Namespace) -> Any:
    path = getattr(args, "config", None)
    if not isinstance(path, str) or not Path(path).is_file():
        return None
    from sdft.config import ConfigError, read_config

    try:
        return read_config(path).get("out")
    except ConfigError:
        return None


def output_dir(command: str, args: argparse.Namespace) -> Path | None:
    """The folder a command writes into (where its run.log goes), or None."""
    if command == "run":
        if getattr(args, "dry_run", False):
            return None  # a plan writes nothing
        from sdft.config import ConfigError
        from sdft.experiment import load_experiment, parse_overrides

        try:
            over = parse_overrides(args.overrides)
            over.update({k: v for k, v in (("out", args.out), ("data_dir", args.data_dir)) if v})
            return load_experiment(args.config, over).run_dir
        except (ConfigError, OSError, ValueError):
            return None  # the command reports the problem itself
    if command not in ("generate", "distill", "train", "eval", "analyze", "report"):
        return None  # score, compare, data, models, ls, validate write no folder
    if command in ("report", "analyze"):
        named = getattr(args, "run_dirs", None) or [getattr(args, "run_dir", None)]
        if any(d and not (Path(d) / "manifest.json").is_file() for d in named):
            return None  # the command refuses a folder that is not a run: make no folder (in it) for a log
    out = getattr(args, "out", None) or _yaml_out(args)
    if command == "generate":
        return Path(out).parent if out else None
    if command == "report" and not out:
        dirs = getattr(args, "run_dirs", None) or []
        return Path(dirs[0]) / "report" if len(dirs) == 1 else Path("report")
    if command == "analyze" and not out:
        return Path(args.run_dir) / "analysis" if getattr(args, "run_dir", None) else None
    if command == "eval" and not out:
        return Path("eval")  # EvalConfig's default
    return Path(out) if out else None


def print_summary(run_dir: Path, models: list[dict[str, Any]], notes: list[str]) -> None:
    """The scores per model and benchmark (each model's ``eval_dir``/results.json), then the
    config's notes: what a reader of ``sdft run`` must see on the console."""
    import json

    rows = []
    for m in models:
        res = json.loads((run_dir / m["eval_dir"] / "results.json").read_text(encoding="utf-8"))
        rows.append((m["label"], {k: e["score"] for k, e in res["benchmarks"].items()}))
    benches = list(dict.fromkeys(b for _, scores in rows for b in scores))
    width = max([len(label) for label, _ in rows] + [5])
    print("\n" + "model".ljust(width) + "".join(f"  {b[:18]:>18}" for b in benches))
    for label, scores in rows:
        cells = "".join(f"  {100 * scores[b]:17.1f}%" if b in scores else f"  {'-':>18}" for b in benches)
        print(label.ljust(width) + cells)
    print_notes(notes)


def print_notes(notes: list[str]) -> None:
    """The config's notes, each on one line: caveats a reader of the console must see."""
    for note in notes:
        print(f"\nNote: {' '.join(note.split())}")
