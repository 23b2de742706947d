"""The command table: one module per command in sdft.commands, each with the two functions and a
paste-ready example; building any command's flags loads no heavy library; an unknown command exits 2."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import sdft.commands
from sdft.cli import COMMANDS, main


def test_every_command_module_is_in_the_table_and_has_the_two_functions_and_an_example():
    import importlib

    modules = {m.name for m in pkgutil.iter_modules(sdft.commands.__path__)}
    assert modules == set(COMMANDS)
    for name in COMMANDS:
        mod = importlib.import_module(f"sdft.commands.{name}")
        assert callable(mod.add_arguments) and callable(mod.run), name
        examples = [ln.strip() for ln in mod.__doc__.splitlines() if ln.strip().startswith("sdft ")]
        assert any(ex.startswith(f"sdft {name}") for ex in examples), f"{name}: no `sdft {name} ...` example"


def test_building_every_commands_flags_loads_no_heavy_library():
    # In a fresh interpreter: `sdft --help` and `sdft CMD --help` must stay instant, and every
    # command's help must format (argparse %-expands help strings: a bare "95 % CI" raises).
    code = (
        "import argparse, importlib, json, sys\n"
        "from sdft.cli import COMMANDS, main\n"
        "main(['--help'])\n"
        "for n in COMMANDS:\n"
        "    p = argparse.ArgumentParser()\n"
        "    importlib.import_module('sdft.commands.' + n).add_arguments(p)\n"
        "    subs = [a.choices for a in p._actions if isinstance(getattr(a, 'choices', None), dict)]\n"
        "    for q in [p] + [q for c in subs for q in c.values()]:\n"
        "        q.format_help()\n"
        "heavy = ('torch', 'transformers', 'trl', 'peft', 'lm_eval', 'datasets', 'matplotlib')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.splitlines()[-1]) == []
    assert "validate" in out and "compare" in out  # the help lists the commands


def test_a_closed_stdout_pipe_ends_the_command_quietly_with_141():
    # `sdft ls | head -0`: the reader is gone before the first line is written.
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "SDFT_ALLOCATOR": "system"}
    try:
        res = subprocess.run([sys.executable, "-m", "sdft.cli", "ls"], stdout=write_end,
                             stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    finally:
        os.close(write_end)
    assert res.returncode == 141, res.stderr
    assert "Traceback" not in res.stderr and "BrokenPipeError" not in res.stderr


def test_unknown_command_exits_nonzero(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_ctrl_c_prints_one_line_and_exits_130_with_the_log_kept(tmp_path, monkeypatch, capsys):
    import sdft.commands.generate as generate
    import sdft.commands.ls as ls

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "run", interrupted)
    out = tmp_path / "g" / "preds.jsonl"
    assert main(["generate", "--data", "gsm8k:test", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines() == [
        "sdft generate: interrupted; what was written is kept: run the same command again to resume"]
    assert "interrupted" in (out.parent / "run.log").read_text(encoding="utf-8")
    monkeypatch.setattr(ls, "run", interrupted)  # a command that writes nothing has nothing to resume
    assert main(["ls"]) == 130
    assert capsys.readouterr().err.strip() == "sdft ls: interrupted"
    assert main(["ls", "-v"]) == 130  # -v keeps the traceback, as for any other error
    assert "Traceback" in capsys.readouterr().err
