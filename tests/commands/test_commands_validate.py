"""`sdft validate`: every config named is loaded; one bad key exits 2 naming the file and key."""

from __future__ import annotations

from sdft.cli import main as cli_main
from sdft.experiment import shipped_configs


def test_validate_prints_each_config_and_exits_0(capsys):
    demo = next(p for p in shipped_configs() if p.stem == "demo")
    assert cli_main(["validate", str(demo)]) == 0
    assert f"{demo}: ok (demo: qwen2.5-coder-0.5b" in capsys.readouterr().out


def test_an_unknown_key_exits_2_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: gsm8k\nepochs: 3\n")
    assert cli_main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "'epochs'" in err
