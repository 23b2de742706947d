"""`sdft <command>`: each command is a thin function over the library.

The table below is the one place commands are listed. Each entry names the module that
defines ``add_arguments(parser)`` and ``run(args) -> int``; the module is imported only when
its command runs, so ``sdft --help`` stays instant and a heavy backend is never loaded for a
command that does not need it.

    sdft generate --model smollm2-135m --data gsm8k:test --out preds.jsonl --limit 16
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sdft import logs, runs

# name -> (module[:suffix], one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("sdft.generation.command", "generate answers for a dataset into resumable JSONL"),
    "data": ("sdft.data.command", "list the task table or check / preview a dataset file"),
    "models": ("sdft.model_command", "list model aliases, install or convert one"),
    "analyze": ("sdft.analyze.command", "distribution shift of fine-tuned models vs the seed: similarity, parameter shift, figures"),
    "report": ("sdft.analyze.report_command", "build report.md and a self-contained report.html from run folders"),
    "run": ("sdft.pipeline", "run an experiment config end to end (resumable)"),
    "ls": ("sdft.experiment:ls", "list the shipped experiment configs"),
    "validate": ("sdft.experiment:validate", "check an experiment config without running it"),
    "distill": ("sdft.distill.command", "rewrite reference answers with the seed model; keep faithful rewrites"),
    "train": ("sdft.train.command", "fine-tune (LoRA or full) on a task set or a distilled set; SFT or on-policy SDFT"),
    "eval": ("sdft.evaluate.command", "evaluate a model (+ adapter) on the paper's benchmark battery"),
    "score": ("sdft.evaluate.score_command", "score an existing predictions file without a model"),
    "compare": ("sdft.evaluate.compare_command", "paired difference between two eval results folders"),
}

ERRORS_HANDLED = ("DataError", "ConfigError", "ModelError", "SandboxError")


def _top_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sdft",
        description="Self-Distillation Fine-Tuning: distil, fine-tune, and measure forgetting.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + "\n".join(f"  {n:<10} {h}" for n, (_, h) in COMMANDS.items())
        + "\n\nRun `sdft COMMAND --help` for a command's flags. -v / -q (anywhere): more or less console "
        "logging;\ncommands that write an output folder append their log to run.log there.",
    )
    p.add_argument("command", nargs="?", help="one of the commands below")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def main(argv: list[str] | None = None) -> int:
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
    module_name, help_text = COMMANDS[name]
    # "module" -> add_arguments/run; "module:x" -> add_x_arguments/run_x (several commands, one module)
    module_name, _, suffix = module_name.partition(":")
    module = importlib.import_module(module_name)
    add_args = getattr(module, f"add_{suffix}_arguments" if suffix else "add_arguments")
    run_cmd = getattr(module, f"run_{suffix}" if suffix else "run")
    parser = argparse.ArgumentParser(prog=f"sdft {name}", description=(module.__doc__ or help_text).strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(parser)
    args = parser.parse_args(rest)
    logs.setup(name, args, verbosity, argv)
    runs.git_hash()  # pin provenance to the code as imported now, before a long command runs
    try:
        return int(run_cmd(args) or 0)
    except Exception as e:  # known input errors: one clear line, non-zero exit, no traceback
        if type(e).__name__ in ERRORS_HANDLED:
            logs.file_only(f"error: {e}")  # run.log; the console gets the line below
            print(f"sdft {name}: error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
