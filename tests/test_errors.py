"""One error family: every input error is an SdftError, the CLI prints it in one line, a bug
keeps its traceback, and the old import paths name the same classes."""

from __future__ import annotations

import sys
import types

import pytest

from sdft import cli, errors


def test_old_import_paths_are_the_same_classes_and_keep_their_builtin_base():
    from sdft.config import ConfigError
    from sdft.data.records import DataError
    from sdft.evaluate.sandbox import SandboxError
    from sdft.models import ModelError

    assert (ConfigError, DataError, ModelError, SandboxError) == (
        errors.ConfigError, errors.DataError, errors.ModelError, errors.SandboxError)
    assert all(issubclass(c, errors.SdftError) for c in (ConfigError, DataError, ModelError, SandboxError))
    # Callers that caught the built-in error before the family existed still catch it.
    assert issubclass(ConfigError, ValueError) and issubclass(DataError, ValueError)
    assert issubclass(ModelError, RuntimeError) and issubclass(SandboxError, RuntimeError)


def _command(monkeypatch, exc: BaseException) -> None:
    mod = types.ModuleType("sdft.commands.boom")
    mod.add_arguments = lambda parser: None

    def run(args):
        raise exc

    mod.run = run
    monkeypatch.setitem(sys.modules, "sdft.commands.boom", mod)
    monkeypatch.setitem(cli.COMMANDS, "boom", "raises")


def test_cli_prints_an_input_error_in_one_line_and_exits_2(monkeypatch, capsys):
    _command(monkeypatch, errors.DataError("data.jsonl line 3: field `output` is missing"))
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err == "sdft boom: error: data.jsonl line 3: field `output` is missing\n"


def test_cli_lets_a_bug_keep_its_traceback(monkeypatch):
    # A plain ValueError is not an input error the user can fix: it must not be swallowed.
    _command(monkeypatch, ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["boom"])
