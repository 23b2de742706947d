"""The distillation stage end to end with a fake generator: prompts, selection, fallback,
mixing, sampling, resuming, export, and reading the result back for training."""

from __future__ import annotations

import json

import pytest

from sdft.config import ConfigError
from sdft.data.records import DataError, Example
from sdft.distill import DistillConfig, load_distilled, run_distill
from sdft.distill.templates import load_template
from sdft.generation.fake import FakeGenerator


def gsm8k_examples(data_dir, n=8):
    rows = json.loads((data_dir / "gsm8k" / "gsm8k_train.json").read_text())[:n]
    return [Example(id=f"gsm8k-train-{i}", instruction=r["question"], response=r["answer"], task="gsm8k")
            for i, r in enumerate(rows)]


def reference_of(request):
    return request.messages[-1]["content"].split("### Reference answer:\n")[-1]


def scripted(request):
    """Per example index: a faithful rewrite, a wrong answer, an echo, an over-long ramble."""
    i = int(request.id.rsplit("-", 1)[1])
    answer = reference_of(request).rsplit("The answer is ", 1)[1].rstrip(".")
    return [f"First we add things up. The answer is {answer}.",
            "I think the result is 3.",
            f"Following the reference answer, the answer is {answer}.",
            "word " * 200 + f"The answer is {answer}."][i % 4]


def cfg_for(tmp_path, **kw):
    kw = {"max_new_tokens": 64, **kw}
    return DistillConfig(data="gsm8k:train", out=str(tmp_path / "out"), progress=False, **kw)


def test_gsm8k_selection_fallback_and_prefix(tmp_path, data_dir):
    examples = gsm8k_examples(data_dir)
    gen = FakeGenerator(scripted)
    report = run_distill(cfg_for(tmp_path), generator=gen, examples=examples)

    # the math template, with the paper's chain-of-thought opener as a prefill
    (requests,) = gen.calls
    assert requests[0].prefill == "Great! Let's think step by step. "
    (only,) = requests[0].messages  # no system message: the model's own default applies
    assert only["content"].startswith("Below are a math question and its reference answer.")
    assert only["content"].endswith(f"### Question:\n{examples[0].instruction}\n\n"
                                    f"### Reference answer:\n{examples[0].response}")

    assert report["reasons"] == {"check_failed": 2, "echo": 2, "ok": 2, "truncated": 2}
    assert (report["total"], report["distilled"], report["kept"], report["fallback"]) == (8, 8, 2, 6)
    assert report["kept_rate"] == 0.25

    lines = [json.loads(x) for x in (tmp_path / "out" / "distilled.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == [e.id for e in examples]
    kept = [r for r in lines if r["kept"]]
    assert [r["id"] for r in kept] == ["gsm8k-train-0", "gsm8k-train-4"]
    assert kept[0]["response"] == "First we add things up. The answer is 72."
    # decided: the prefill is prompt, not response (as in the authors' pipeline)
    assert not kept[0]["response"].startswith("Great!")
    for r in lines:
        if not r["kept"]:
            assert r["response"] == r["original"] == examples[int(r["id"].rsplit("-", 1)[1])].response
    assert lines[1]["reason"] == "check_failed" and lines[1]["rewrite"] == "I think the result is 3."
    assert lines[3]["reason"] == "truncated"

    saved = json.loads((tmp_path / "out" / "distill_report.json").read_text())
    assert saved["kept"] == 2 and saved["provenance"]["versions"]["python"]


def test_resume_generates_only_missing_and_reselects_without_model(tmp_path, data_dir):
    examples = gsm8k_examples(data_dir)
    cfg = cfg_for(tmp_path)
    first = run_distill(cfg, generator=FakeGenerator(scripted), examples=examples)

    class Exploding:
        def generate(self, requests, sampling):
            raise AssertionError("nothing should be generated")

    again = run_distill(cfg, generator=Exploding(), examples=examples)
    assert again["reasons"] == first["reasons"] and again["generation"]["generated"] == 0

    path = tmp_path / "out" / "rewrites.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:5]) + lines[5][:20])  # a killed run: partial last line
    gen = FakeGenerator(scripted)
    resumed = run_distill(cfg, generator=gen, examples=examples)
    assert sorted(r.id for r in gen.calls[0]) == sorted(json.loads(x)["id"] for x in lines[5:])
    assert resumed["reasons"] == first["reasons"]
    assert len(path.read_text().splitlines()) == 8


def test_resume_with_other_generation_settings_is_refused(tmp_path, data_dir):
    examples = gsm8k_examples(data_dir, 2)
    run_distill(cfg_for(tmp_path), generator=FakeGenerator(scripted), examples=examples)
    with pytest.raises(ConfigError, match="template: None -> 'using'"):
        run_distill(cfg_for(tmp_path, template="using"), generator=FakeGenerator(scripted), examples=examples)
    # selection-only settings may change
    report = run_distill(cfg_for(tmp_path, check="none"), generator=FakeGenerator(scripted), examples=examples)
    assert report["reasons"] == {"ok": 2}


@pytest.mark.parametrize("ratio, distilled", [(0.0, 0), (0.5, 4), (1.0, 8)])
def test_mix_ratio_distils_a_seeded_fraction(tmp_path, data_dir, ratio, distilled):
    examples = gsm8k_examples(data_dir)
    good = FakeGenerator(lambda r: "Done. " + reference_of(r))
    cfg = cfg_for(tmp_path, mix_ratio=ratio, max_new_tokens=512)
    report = run_distill(cfg, generator=good, examples=examples)
    assert report["distilled"] == distilled and report["kept"] == distilled
    assert report["reasons"].get("not_mixed", 0) == 8 - distilled
    assert sum(len(c) for c in good.calls) == distilled
    rows = load_distilled(tmp_path / "out")
    assert sum(ex.response.startswith("Done. ") for ex in rows) == distilled


def test_sample_is_seeded_and_keeps_input_order(tmp_path, data_dir):
    examples = gsm8k_examples(data_dir, 20)
    ids = {}
    for seed in (1, 1, 2):
        out = tmp_path / f"s{seed}"
        cfg = DistillConfig(data="gsm8k:train", out=str(out), sample=5, seed=seed, progress=False)
        run_distill(cfg, generator=FakeGenerator(lambda r: "x " + reference_of(r)), examples=examples)
        got = [ex.id for ex in load_distilled(out)]
        assert len(got) == 5 and got == sorted(got, key=lambda i: int(i.rsplit("-", 1)[1]))
        ids.setdefault(seed, got)
        assert ids[seed] == got
    assert ids[1] != ids[2]


def test_export_alpaca_and_load_distilled_round_trip(tmp_path, data_dir):
    examples = gsm8k_examples(data_dir, 4)
    examples[1].history = [("Hi", "Hello!")]
    report = run_distill(cfg_for(tmp_path, export="alpaca"), generator=FakeGenerator(scripted), examples=examples)
    exported = json.loads((tmp_path / "out" / "distilled_gsm8k.json").read_text())
    assert report["export"].endswith("distilled_gsm8k.json")
    assert [set(r) for r in exported] == [{"instruction", "input", "output", "history"}] * 4
    assert exported[0]["output"].startswith("First we add things up.")
    assert exported[1]["output"] == examples[1].response and exported[1]["history"] == [["Hi", "Hello!"]]

    rows = load_distilled(tmp_path / "out" / "distilled.jsonl")
    assert rows[0].response == exported[0]["output"] and rows[0].task == "gsm8k"
    assert rows[0].meta["kept"] is True and rows[0].meta["original"] == examples[0].response
    assert rows[1].history == [("Hi", "Hello!")] and rows[1].meta["reason"] == "check_failed"
    assert rows[1].messages()[-1]["content"] == examples[1].instruction  # no distillation template


def test_default_templates_per_task_and_file_templates(tmp_path):
    ex = [Example(id="of-0", instruction="Call it.", response="f(x=1)", task="openfunction"),
          Example(id="al-0", instruction="Say hi.", input="to Bob", response="Hi Bob", task="alpaca")]
    gen = FakeGenerator(lambda r: "f(x=1)" if r.id == "of-0" else "Hello, Bob!")
    report = run_distill(DistillConfig(data="mixed", out=str(tmp_path / "a"), progress=False), gen, ex)
    assert report["templates"] == ["refer", "using"] and report["kept"] == 2
    # The instruction rides in the user turn; no system message, so the model's default applies.
    assert all(len(r.messages) == 1 and r.messages[0]["role"] == "user" for r in gen.calls[0])
    users = {r.id: r.messages[0]["content"] for r in gen.calls[0]}
    assert "Refer to the reference answer" in users["of-0"] and "as a guide" in users["al-0"]
    assert users["al-0"].endswith("### Instruction:\nSay hi.\n\nto Bob\n\n### Reference answer:\nHi Bob")
    # The first release's templates replace the system prompt; they stay as named variants.
    old = load_template("using_system").request(ex[1])
    assert old.messages[0]["role"] == "system" and "as a guide" in old.messages[0]["content"]
    assert old.messages[1]["content"] == "Say hi.\n\nto Bob\n\nHi Bob"
    # A record's own system message is kept by the default templates.
    own = Example(id="s-0", instruction="Q", response="A", system="You are terse.", task="alpaca")
    assert load_template("using").request(own).messages[0] == {"role": "system", "content": "You are terse."}

    user_file = tmp_path / "mine.jinja"
    user_file.write_text("Task: {{ instruction }} {{ input }}\nExample answer: {{ reference }}")
    t = load_template(str(user_file))
    req = t.request(ex[1])
    assert req.messages == [{"role": "user", "content": "Task: Say hi. to Bob\nExample answer: Hi Bob"}]
    assert req.prefill == ""
    bad = tmp_path / "bad.jinja"
    bad.write_text("{{ refrence }}")
    with pytest.raises(ConfigError, match="record al-0"):
        load_template(str(bad)).request(ex[1])
    yml = tmp_path / "t.yaml"
    yml.write_text("system: Be brief.\nuser: '{{ instruction }} => {{ reference }}'\nprefill: 'Sure: '\n")
    req = load_template(str(yml)).request(ex[1])
    assert req.messages[0]["content"] == "Be brief." and req.prefill == "Sure: "
    with pytest.raises(ConfigError, match="neither a built-in"):
        load_template("nope")


def test_bad_input_errors_name_the_record_and_field(tmp_path):
    dup = [Example(id="a", instruction="q", response="r"), Example(id="a", instruction="q2", response="r2")]
    with pytest.raises(DataError, match="duplicate id 'a'"):
        run_distill(DistillConfig(data="d.json", out=str(tmp_path / "o"), progress=False), FakeGenerator(), dup)
    empty = [Example(id="e1", instruction="q", response="  ")]
    with pytest.raises(DataError, match="record e1: empty `response`"):
        run_distill(DistillConfig(data="d.json", out=str(tmp_path / "o"), progress=False), FakeGenerator(), empty)
    with pytest.raises(ConfigError, match="mix_ratio"):
        run_distill(DistillConfig(data="d", out=str(tmp_path / "o"), mix_ratio=1.5), FakeGenerator(), empty)


def test_export_llamafactory_and_hf_round_trip_and_push(tmp_path, data_dir, monkeypatch):
    import datasets
    import huggingface_hub

    from sdft.data import tasks

    calls = []

    class Api:
        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", repo_id, kw))

        def upload_folder(self, **kw):
            calls.append(("upload_folder", kw["repo_id"], kw))
            return "https://huggingface.co/datasets/me/gsm8k-sdft/commit/1"

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    examples = gsm8k_examples(data_dir, 4)
    examples[1].history = [("Hi", "Hello!")]
    examples[2].system = "Be brief."
    cfg = cfg_for(tmp_path, export="llamafactory", push_to_hub="me/gsm8k-sdft", hub_private=False)
    report = run_distill(cfg, generator=FakeGenerator(scripted), examples=examples)
    out = tmp_path / "out"
    distilled = load_distilled(out / "distilled.jsonl")

    # LLaMA-Factory's registry entry, read back by our own LLaMA-Factory reader
    info = json.loads((out / "dataset_info.json").read_text())
    assert info == {"sdft_gsm8k": {"file_name": "distilled_gsm8k.json", "formatting": "alpaca", "columns": {
        "prompt": "instruction", "query": "input", "response": "output", "history": "history", "system": "system"}}}
    back = tasks.load_data(f"{out / 'dataset_info.json'}#sdft_gsm8k")
    assert [(e.instruction, e.response, e.history, e.system) for e in back] == \
        [(e.instruction, e.response, e.history, e.system) for e in distilled]

    # the HF datasets folder: datasets reads it through the card's configs, we read the parquet
    hf = out / "hf"
    ds = datasets.load_dataset(str(hf), split="train")
    assert ds["output"] == [e.response for e in distilled] and ds["id"] == [e.id for e in distilled]
    assert ds["kept"] == [True, False, False, False] and ds["history"][1] == [["Hi", "Hello!"]]
    parquet = tasks.load_data(str(hf / "data" / "train-00000-of-00001.parquet"))
    assert [(e.id, e.response, e.system) for e in parquet] == [(e.id, e.response, e.system) for e in distilled]
    assert json.loads((hf / "dataset_info.json").read_text())["sdft_gsm8k"]["hf_hub_url"] == "me/gsm8k-sdft"
    card = (hf / "README.md").read_text()
    assert "kept | 1 of 4 rewrites (25.0 %)" in card and 'load_dataset("me/gsm8k-sdft"' in card

    # the push: a dataset repo, public as asked, the hf folder as it is on disk
    assert [c[:2] for c in calls] == [("create_repo", "me/gsm8k-sdft"), ("upload_folder", "me/gsm8k-sdft")]
    assert calls[0][2] == {"repo_type": "dataset", "private": False, "exist_ok": True}
    assert calls[1][2]["folder_path"] == str(hf) and calls[1][2]["repo_type"] == "dataset"
    assert calls[1][2]["commit_message"] == "sdft: distilled gsm8k:train with smollm2-135m"
    assert report["pushed"].endswith("/commit/1") and set(report["exports"]) == {"llamafactory", "hf"}
    with pytest.raises(ConfigError, match="`export`: parquet is not one of alpaca, llamafactory, hf"):
        run_distill(cfg_for(tmp_path, export="parquet"), generator=FakeGenerator(scripted), examples=examples)


def test_resume_where_auto_resolves_to_another_dtype_is_refused(tmp_path, data_dir, monkeypatch):
    from sdft import models

    examples = gsm8k_examples(data_dir, 2)
    monkeypatch.setattr(models, "default_device", lambda: "cpu")
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: True)  # an Intel Xeon with AMX-BF16
    report = run_distill(cfg_for(tmp_path), generator=FakeGenerator(scripted), examples=examples)
    assert report["dtype"] == "bfloat16"
    monkeypatch.setattr(models, "cpu_has_fast_bf16", lambda: False)  # an AMD EPYC, AVX2 only
    with pytest.raises(ConfigError, match="dtype_resolved: 'bfloat16' -> 'float32'"):
        run_distill(cfg_for(tmp_path), generator=FakeGenerator(scripted), examples=examples)
    # a folder pinned before the dtype was recorded resumes (it cannot be checked)
    pinned = tmp_path / "out" / "distill_config.json"
    pinned.write_text(json.dumps({k: v for k, v in json.loads(pinned.read_text()).items() if k != "dtype_resolved"}))
    assert run_distill(cfg_for(tmp_path), generator=FakeGenerator(scripted), examples=examples)["dtype"] == "float32"


def test_the_nll_gap_borrows_the_in_process_engines_model_and_skips_other_generators(
        tmp_path, data_dir, tiny_model_dir, monkeypatch):
    """The gap needs the seed's log-likelihoods: a generator that lends its model
    (:class:`sdft.generation.base.LocalModel`, the hf engine) is reused, no second copy is loaded;
    one that does not (a server backend, the fake) leaves the gap out and says why."""
    from sdft import models
    from sdft.generation.base import LocalModel
    from sdft.generation.hf import HFGenerator

    examples = gsm8k_examples(data_dir, 4)
    fake = FakeGenerator(scripted)
    assert not isinstance(fake, LocalModel)
    report = run_distill(cfg_for(tmp_path / "fake", nll_sample=4), generator=fake, examples=examples)
    assert report["nll"] == {"skipped": "the generator passed in has no local model"}

    model, tok = models.load(tiny_model_dir, device="cpu", dtype="float32")
    engine = HFGenerator(model, tok)
    assert isinstance(engine, LocalModel) and engine.local_model() == (model, tok)
    monkeypatch.setattr(models, "load", lambda *a, **k: pytest.fail("the gap loaded a second copy of the seed"))
    report = run_distill(cfg_for(tmp_path / "hf", nll_sample=4, model=tiny_model_dir, max_new_tokens=8),
                         generator=engine, examples=examples)
    assert report["nll"]["sample"] == 4 and report["nll"]["original"]["n"] == 4


def test_the_configs_own_values_are_checked_when_it_is_made(tmp_path):
    # not only when `sdft distill` runs: an experiment's distill section (sdft validate) sees them too
    for values, message in (({"mix_ratio": 1.5}, r"`mix_ratio` must be within \[0, 1\], got 1.5"),
                            ({"sample": 0}, "`sample` must be positive"), ({"limit": -1}, "`limit` must be positive"),
                            ({"export": "parquet"}, "`export`: parquet is not one of"),
                            ({"check": "maths"}, "check: unknown check 'maths'")):
        with pytest.raises(ConfigError, match=message):
            DistillConfig(**values)
    # a template file is read when the stage starts (a manifest read back need not find it), before the data
    with pytest.raises(ConfigError, match="'usng' is neither a built-in"):
        run_distill(DistillConfig(data="no/such/data.json", out=str(tmp_path / "o"), template="usng"))
