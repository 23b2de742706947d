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


def test_every_file_is_checked_and_any_failure_exits_2(tmp_path, capsys):
    """`sdft validate configs/*.yaml` stopped at the first bad file; the ones after it went unchecked."""
    demo = next(p for p in shipped_configs() if p.stem == "demo")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: gsm8k\nepochs: 3\n")
    assert cli_main(["validate", str(bad), str(demo), str(tmp_path / "missing.yaml")]) == 2
    captured = capsys.readouterr()
    assert f"{demo}: ok (demo" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 3, err
    assert "bad.yaml" in err[0] and "'epochs'" in err[0]
    assert "missing.yaml: no such config file" in err[1]
    assert "2 of 3 configs have errors" in err[2]
