"""`sdft <command>`: each command is a thin function over the library.

The table below is the one place commands are listed. Command ``NAME`` is the module
``sdft.commands.NAME``, which defines ``add_arguments(parser)`` and ``run(args) -> int`` (and may
define ``check_args(args)``, its argument checks, called before the command's run.log is opened); it is
imported only when its command runs, so ``sdft --help`` stays instant and a heavy backend is
never loaded for a command that does not need it.

    sdft generate --model smollm2-135m --data gsm8k:test --out preds.jsonl --limit 16
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sdft import allocator, logs, runs
from sdft.errors import SdftError

# name -> one-line help; the command's code is the module sdft.commands.<name>
COMMANDS: dict[str, str] = {
    "generate": "generate answers for a dataset into resumable JSONL",
    "data": "list the task table or check / preview a dataset file",
    "models": "list model aliases, or prepare (convert and cache) one",
    "analyze": "distribution shift of fine-tuned models vs the seed: similarity, parameter shift, figures",
    "report": "build report.md and a self-contained report.html from run folders",
    "run": "run an experiment config end to end (resumable)",
    "ls": "list the shipped experiment configs",
    "validate": "check experiment configs without running them",
    "distill": "rewrite reference answers with the seed model; keep faithful rewrites",
    "train": "fine-tune (LoRA or full) on a task set or a distilled set; SFT or on-policy SDFT",
    "eval": "evaluate a model (+ adapter) on the paper's benchmark battery",
    "score": "score an existing predictions file without a model",
    "compare": "paired difference between two eval results folders",
}


def _top_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sdft",
        description="Self-Distillation Fine-Tuning: distil, fine-tune, and measure forgetting.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + "\n".join(f"  {n:<10} {h}" for n, h in COMMANDS.items())
        + "\n\nRun `sdft COMMAND --help` for a command's flags. -v / -q (anywhere): more or less console "
        "logging;\ncommands that write an output folder append their log to run.log there.",
    )
    p.add_argument("command", nargs="?", help="one of the commands below")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the command line, not a call from Python: with a faster allocator (sdft.allocator)
        allocator.reexec(sys.argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, verbosity = logs.pop_verbosity(argv)
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0
    if argv[0] == "--version":
        from sdft import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        top.print_usage(sys.stderr)
        print(f"sdft: unknown command {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"sdft.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"sdft {name}", description=(module.__doc__ or COMMANDS[name]).strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    try:  # `sdft run CONFIG --dry-run train.lr=2e-4`: overrides may follow the flags
        args = parser.parse_intermixed_args(rest)
    except TypeError:  # a command with sub-commands (sdft data list) cannot intermix
        args = parser.parse_args(rest)
    log_file = None
    try:
        if hasattr(module, "check_args"):  # its argument checks first: a refused one opens no run.log
            logs.setup(name, None, verbosity)  # (the console only)
            module.check_args(args)
        log_file = logs.setup(name, args, verbosity, argv)
        runs.git_hash()  # pin provenance to the code as imported now, before a long command runs
        return int(module.run(args) or 0)
    except SdftError as e:  # an input the user can fix: one clear line, no traceback (a bug keeps its own)
        return _error(name, str(e), e if verbosity > 0 else None)
    except KeyboardInterrupt as e:  # Ctrl-C: the writers append and the stages resume, so no traceback
        kept = "; what was written is kept: run the same command again to resume" if log_file else ""
        return _error(name, f"interrupted{kept}", e if verbosity > 0 else None, label="", status=130)
    except BrokenPipeError:  # `sdft ls | head`: the reader left; stop quietly, as Unix tools do
        if not _stdout_closed():
            raise  # a pipe of the command's own (a subprocess): a real error
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the closed pipe
    except OSError as e:
        refused = runs.fs_refusal(e)
        if refused is None:
            raise
        # A full disk, a read-only or forbidden folder outside the JSONL writers (which say more):
        # a checkpoint, a results file, the log. What finished is on disk; the stages resume.
        where = f"{e.filename}: " if e.filename else ""
        return _error(name, f"{where}{refused[0]}. Finished work is kept: {refused[1]}, then run the same "
                            f"command again to resume.", e if verbosity > 0 else None)
    finally:
        logs.teardown()  # main() called from Python: later records do not land in this run.log


def _error(name: str, message: str, shown: BaseException | None, label: str = "error: ", status: int = 2) -> int:
    """Print one error line (and, with -v, the traceback ``shown``); exit ``status``."""
    if shown is not None:
        import traceback

        traceback.print_exception(type(shown), shown, shown.__traceback__, file=sys.stderr)
    logs.file_only(f"{label}{message}")  # run.log; the console gets the line below
    print(f"sdft {name}: {label}{message}", file=sys.stderr)
    return status


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone; if so, point stdout at /dev/null so the
    interpreter's final flush does not raise again."""
    import os
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no poll (Windows) or no real stdout
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return gone


if __name__ == "__main__":
    sys.exit(main())
