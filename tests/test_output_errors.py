"""The file system refusing a write (full, read-only, forbidden) is one clear error naming the
file, how many records are safe and how to resume, exit 2, no traceback; the resume is right."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdft import runs
from sdft.cli import main

N = 48
# Records of ~2.5 kB (the question twice: the prompt, and the fake backend's echo): 48 need ~120 kB.
QUESTION = "Spell out the number {i} in words, then " + "explain why " * 100


def _dataset(path: Path) -> Path:
    rows = [{"instruction": QUESTION.format(i=i), "output": str(i)} for i in range(N)]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def _ids(out: Path) -> list[str]:
    text = out.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "a torn last line survived"
    return [json.loads(line)["id"] for line in text.splitlines()]


def _can_mount_tmpfs(tmp_path: Path) -> bool:
    if not shutil.which("unshare"):
        return False
    tmp_path.mkdir()
    probe = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
             f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def test_a_full_file_system_is_one_clear_error_and_the_resume_is_complete(tmp_path):
    """A real 64 kB tmpfs (in a private mount namespace) fills mid-run; then it is made larger
    and the same command resumes. Skipped where such a mount is not allowed."""
    if not _can_mount_tmpfs(tmp_path / "probe"):
        pytest.skip("cannot mount a tmpfs here (no unshare or no user namespaces)")
    data = _dataset(tmp_path / "qa.json")
    mnt, keep = tmp_path / "mnt", tmp_path / "keep"
    mnt.mkdir()
    keep.mkdir()
    gen = " ".join([sys.executable, "-m", "sdft.cli", "generate", "--backend", "fake", "--data", str(data),
                    "--out", str(mnt / "preds.jsonl")])
    script = (f"mount -t tmpfs -o size=64k tmpfs {mnt} || exit 90\n"
              f"{gen} > {keep}/out1 2> {keep}/err1; echo $? > {keep}/rc1\n"
              f"cp {mnt}/preds.jsonl {keep}/full.jsonl\n"
              f"mount -o remount,size=4m {mnt}\n"
              f"{gen} > {keep}/out2 2> {keep}/err2; echo $? > {keep}/rc2\n"
              f"cp {mnt}/preds.jsonl {keep}/resumed.jsonl\n")
    res = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    err = (keep / "err1").read_text()
    assert (keep / "rc1").read_text().strip() == "2", err
    safe = _ids(keep / "full.jsonl")  # no torn line was left
    assert 0 < len(safe) < N
    line = [ln for ln in err.splitlines() if ln.startswith("sdft generate: error:")]
    assert line == [f"sdft generate: error: {mnt / 'preds.jsonl'}: cannot write: no space left on the device. "
                    f"It holds {len(safe)} complete records, which are kept: free some space, then run the same "
                    f"command again to resume after them (a cut-off last line is dropped)."]
    assert "Traceback" not in err
    assert (keep / "rc2").read_text().strip() == "0", (keep / "err2").read_text()
    ids = _ids(keep / "resumed.jsonl")
    assert sorted(ids) == sorted(f"qa/{i}" for i in range(N)) and ids[:len(safe)] == safe
    assert f"{N - len(safe)} generated, {len(safe)} already there" in (keep / "out2").read_text()


@pytest.mark.parametrize("code,reason,remedy", [
    (errno.ENOSPC, "no space left on the device", "free some space"),
    (errno.EACCES, "permission denied", "make it and its folder writable"),
    (errno.EROFS, "read-only file system", "write to a writable file system"),
])
def test_a_refused_write_names_file_safe_records_and_resume(tmp_path, monkeypatch, capsys, code, reason, remedy):
    """The same, simulated: the 4th record's fsync is refused after half of a 5th line reached the
    file (we run as root here, so a real permission error cannot be made, and not every machine
    may mount a file system)."""
    data = _dataset(tmp_path / "qa.json")
    out = tmp_path / "preds.jsonl"
    calls = []
    real_fsync = os.fsync

    def refuse(fd):
        calls.append(fd)
        if len(calls) == 4:
            os.write(fd, b'{"id": "torn')  # what a half-done write leaves
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(runs.os, "fsync", refuse)
    args = ["generate", "--backend", "fake", "--data", str(data), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    err = err.splitlines()[-1]  # after the progress bar
    assert err.startswith(f"sdft generate: error: {out}: cannot write: {reason}. It holds 4 complete records, "
                          f"which are kept: {remedy}") and "run the same command again" in err
    assert "Traceback" not in err
    assert _ids(out) == ["qa/0", "qa/1", "qa/2", "qa/3"]  # the torn line is gone already
    monkeypatch.setattr(runs.os, "fsync", real_fsync)
    assert main(args) == 0
    assert _ids(out) == [f"qa/{i}" for i in range(N)]


def test_other_os_errors_outside_the_writer_name_the_file(tmp_path, monkeypatch, capsys):
    data = _dataset(tmp_path / "qa.json")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "o.jsonl.meta.json"))

    monkeypatch.setattr("sdft.runs.write_json", full)
    args = ["generate", "--backend", "fake", "--data", str(data), "--out", str(tmp_path / "o.jsonl")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (f"sdft generate: error: {tmp_path / 'o.jsonl.meta.json'}: no space left on the "
                                    f"device. Finished work is kept: free some space, then run the same command "
                                    f"again to resume.")
    assert main(["-v", *args[:-1], str(tmp_path / "o2.jsonl")]) == 2
    assert "Traceback" in capsys.readouterr().err  # -v shows where it happened
