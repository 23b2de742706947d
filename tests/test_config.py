"""sdft.config: reading a YAML config file (one clear error line for what cannot be read)."""

from __future__ import annotations

import pytest

from sdft.config import ConfigError, load_yaml


def test_a_key_given_twice_is_an_error_naming_the_file_line_and_key(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("name: x\nseed: 42\ntrain:\n  lr: 1e-4\nseed: 43\n")
    with pytest.raises(ConfigError, match=r"x.yaml: line 5: key 'seed' is given twice \(first on line 2\)"):
        load_yaml(p)
    p.write_text("train:\n  lr: 1e-4\n  epochs: 2\n  lr: 2e-4\n")  # inside a section too
    with pytest.raises(ConfigError, match=r"x.yaml: line 4: key 'lr' is given twice \(first on line 2\)"):
        load_yaml(p)


def test_the_same_key_in_different_mappings_and_a_merge_key_override_are_fine(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: {lr: 1}\nb: {lr: 2}\nl: [{x: 1}, {x: 2}]\nbase: &b {p: 1, q: 1}\nc:\n  <<: *b\n  p: 2\n")
    assert load_yaml(p) == {"a": {"lr": 1}, "b": {"lr": 2}, "l": [{"x": 1}, {"x": 2}], "base": {"p": 1, "q": 1},
                            "c": {"p": 2, "q": 1}}


def test_a_folder_or_an_unreadable_file_is_one_line_not_a_traceback(tmp_path):
    with pytest.raises(ConfigError, match=r": is a folder, not a config file"):
        load_yaml(tmp_path)
    binary = tmp_path / "x.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r"x.yaml: cannot read the config"):
        load_yaml(binary)
    with pytest.raises(ConfigError, match=r"nope.yaml: no such config file"):
        load_yaml(tmp_path / "nope.yaml")


def test_a_yaml_syntax_error_is_one_line_naming_the_file_line_and_column(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("name: x\ntrain:\n  lr: [1e-4\n")  # an unclosed list
    with pytest.raises(ConfigError) as e:
        load_yaml(p)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{p}: line 4, column 1: invalid YAML: ")
    assert "expected ',' or ']'" in message
    p.write_text("name: x\n\tseed: 1\n")  # a tab where YAML forbids one
    with pytest.raises(ConfigError, match=r"x.yaml: line 2, column 1: invalid YAML: found character '\\t'"):
        load_yaml(p)
