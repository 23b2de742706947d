"""Every command's log: console verbosity (-v/-q) and run.log in the output folder."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sdft import logs
from sdft.cli import main

FIX = Path(__file__).resolve().parent / "fixtures" / "runs"


def test_verbosity_flags_anywhere():
    assert logs.pop_verbosity(["-v", "run", "x.yaml", "-v"]) == (["run", "x.yaml"], 2)
    assert logs.pop_verbosity(["run", "x.yaml", "--quiet", "--out", "-v2"]) == (["run", "x.yaml", "--out", "-v2"], -1)


def test_console_level_and_run_log(tmp_path, capsys):
    import argparse

    log = logging.getLogger("sdft.some.module")
    args = argparse.Namespace(out=str(tmp_path / "out"), config=None)
    path = logs.setup("train", args, 0, ["train", "--out", str(tmp_path / "out")])
    log.debug("hidden detail")
    log.info("stage started")
    logging.getLogger("otherlib").info("library chatter")
    logging.getLogger("otherlib").warning("library warning")
    err = capsys.readouterr().err
    assert "[sdft train] stage started" in err and "hidden detail" not in err and "library chatter" not in err
    assert "library warning" in err

    logs.setup("train", args, -1, ["train", "-q"])
    log.info("quiet info")
    log.warning("still warned")
    err = capsys.readouterr().err
    assert "quiet info" not in err and "still warned" in err

    logs.setup("train", args, 1, ["train", "-v"])
    log.debug("verbose detail")
    logs.file_only("error: for the file")
    err = capsys.readouterr().err
    assert "verbose detail" in err and "for the file" not in err

    text = path.read_text()
    assert path == tmp_path / "out" / "run.log" and text.count("===== ") == 3  # appended, one header each
    assert "sdft train --out" in text.splitlines()[0] and "(git " in text.splitlines()[0]
    assert "INFO sdft.some.module: stage started" in text and "quiet info" in text  # -q is the console only
    assert "hidden detail" not in text and "verbose detail" in text  # -v: DEBUG into the file too
    assert "ERROR sdft: error: for the file" in text and "library warning" in text
    logs.setup("train", None)  # no folder: console only


def test_a_library_that_prints_its_own_warnings_is_not_shown_twice(tmp_path, capsys):
    """huggingface_hub attaches a console handler to its logger and still propagates: offline,
    `sdft data check hf:...` printed every retry line twice, once raw and once with our prefix."""
    import argparse
    import sys

    lib = logging.getLogger("chattylib")
    own = logging.StreamHandler(sys.stderr)  # (resolved now: capsys has replaced sys.stderr)
    lib.addHandler(own)
    try:
        path = logs.setup("train", argparse.Namespace(out=str(tmp_path / "o"), config=None), 0, ["train"])
        logging.getLogger("chattylib.http").warning("retrying in 1s")
        logging.getLogger("quietlib").warning("no handler of its own")
        err = capsys.readouterr().err
        assert err.count("retrying in 1s") == 1 and "[sdft train] retrying" not in err
        assert "[sdft train] no handler of its own" in err
        assert "retrying in 1s" in path.read_text()  # run.log keeps it
    finally:
        lib.removeHandler(own)
        logs.teardown()


def test_report_defaults_to_the_run_folder_and_logs_there(tmp_path, capsys):
    run = tmp_path / "demo"
    shutil.copytree(FIX / "demo", run)
    assert main(["report", str(run), "--no-figures"]) == 0
    assert (run / "report" / "report.md").exists() and (run / "report" / "report.html").exists()
    assert "sdft report" in (run / "report" / "run.log").read_text()


def test_failing_command_leaves_its_error_in_run_log(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: smollm2-135m\ndata: gsm8k\nout: " + str(tmp_path / "o") + "\nbogus: 1\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "unknown key(s) 'bogus'" in capsys.readouterr().err
    assert "unknown key(s) 'bogus'" in (tmp_path / "o" / "run.log").read_text()
    logging.getLogger("sdft.later").warning("after the command")  # main() returned: its run.log is closed
    assert "after the command" not in (tmp_path / "o" / "run.log").read_text()


def test_the_run_summary_prints_each_models_scores_then_the_notes(tmp_path, capsys):
    import json

    for label, scores in (("seed", {"gsm8k": 0.25, "advbench": 0.5}), ("sdft-s1", {"gsm8k": 0.375})):
        (tmp_path / "eval" / label).mkdir(parents=True)
        (tmp_path / "eval" / label / "results.json").write_text(
            json.dumps({"benchmarks": {b: {"score": s} for b, s in scores.items()}}))
    models = [{"label": "seed", "eval_dir": "eval/seed"}, {"label": "sdft-s1", "eval_dir": "eval/sdft-s1"}]
    logs.print_summary(tmp_path, models, ["A small run,\n   not evidence."])
    lines = [x for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert lines[0].split() == ["model", "gsm8k", "advbench"]
    assert lines[1].split() == ["seed", "25.0%", "50.0%"] and lines[2].split() == ["sdft-s1", "37.5%", "-"]
    assert lines[3] == "Note: A small run, not evidence."
