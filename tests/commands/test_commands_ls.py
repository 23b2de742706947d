"""`sdft ls`: the shipped configs with their descriptions, the base folder left out."""

from __future__ import annotations

from sdft.cli import main as cli_main


def test_ls_skips_the_base_folder(capsys):
    assert cli_main(["ls"]) == 0
    out = capsys.readouterr().out
    assert "table1_gsm8k" in out and "paper " not in out and "base" not in out.split()


def test_ls_all_adds_each_configs_model_data_and_methods(capsys):
    assert cli_main(["ls", "--all"]) == 0
    out = capsys.readouterr().out
    assert "model=qwen2.5-coder-0.5b data=gsm8k:train[:-300] methods=['vanilla', 'sdft']" in out
