"""`sdft models`: the aliases listed with the default marked."""

from __future__ import annotations

from sdft.cli import main as cli_main


def test_models_cli_lists_aliases(capsys):
    assert cli_main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m (default)" in out and "qwen2.5-coder-0.5b" in out
