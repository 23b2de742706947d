"""`sdft run CONFIG.yaml`: the whole experiment, stage by stage, resumable.

Stages talk only through files in the run folder::

    RUN/manifest.json                 resolved config, provenance, stage timings and devices, the model list
    RUN/distill/<template>-<key>/     distilled.jsonl, distill_report.json     (one per template)
    RUN/data/<label>-<key>/           train.jsonl: the exact training set of one fine-tune (a plain file)
    RUN/train/<label>-<key>/          adapter, train_log.jsonl, loss.png, train_summary.json
    RUN/eval/<label>-<key>/           results.json, <benchmark>/predictions.jsonl
    RUN/push/<what>-<key>/            pushed.json: what a push to the hub sent (train/distill push_to_hub)
    RUN/tensorboard/<label>/          with train.report_to tensorboard: curves and scores per model
    RUN/analysis/, RUN/report/        shift measures + figures, report.md + report.html
    RUN/run.log                       every invocation's log (header: time, command line, git hash)

Every stage folder is named by its key and holds a ``.done`` marker once finished
(:mod:`sdft.stages`, with the manifest and its one-precision-per-experiment check): re-running
after a kill resumes the unfinished stage (each stage resumes itself: generation line by line,
training from its last checkpoint), and changing one setting re-runs only the stages whose key changed.

Distillation runs once per template on the largest sample any model needs; each fine-tune's
training set is cut from it (:mod:`sdft.train.trainset`), so a sample-size or mix-ratio sweep
costs training and evaluation, not more generation. Training sets of the other methods are the
sampled examples with their original answers, so they do not wait for (or depend on) distillation.

With ``seeds: [1, 2, 3]`` every method is trained once per seed on the same training set
(labels ``vanilla-s1``, ``sdft-s1``, ...). Models are trained and evaluated one after the other
(seed first, then each fine-tune as soon as it is trained), so a run stopped half way already
holds complete, comparable results for the seeds it finished.

One code path plans and runs: :class:`Stages` names every stage, its folder and key (and the
work to do), :func:`run_experiment` runs them, and ``--dry-run`` (:mod:`sdft.dryrun`) reports
them: what is cached, what is partly done, what will run and roughly how long it will take,
without loading a model.

Hub and trackers: ``train.push_to_hub: me/name`` pushes each fine-tune, after its evaluation
(the model card then carries the scores), to ``me/name-<label>`` (``train.push_merged`` the same
for the merged copy); ``distill.push_to_hub: me/name`` pushes each distilled set (``me/name``,
or ``me/name-<template>`` with several templates). With ``train.report_to: tensorboard`` the
distillation and evaluation metrics go to ``RUN/tensorboard`` beside the training curves.

    sdft run configs/demo.yaml
    sdft run configs/demo.yaml train.lr=2e-4 --dry-run
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sdft.experiment import ExperimentConfig, stage_config
from sdft.planning import Variant, followed, interpolation_points, main_variants, plan
from sdft.runs import write_json
from sdft.stages import Run, Stage, key_of, keyed, marker, others_left_out, stage_dtype
from sdft.train.data import task_of

log = logging.getLogger(__name__)


class Stages:
    """Every stage of an experiment with its folder and key, computed from the config and the
    data alone (no model, no torch): what :func:`run_experiment` runs and ``--dry-run`` shows."""

    def __init__(self, cfg: ExperimentConfig, config_path: str = "", only: list[str] | None = None):
        from sdft.data.tasks import load_data
        from sdft.distill.run import sample_examples
        from sdft.errors import ConfigError
        from sdft.report.endpoints import check_report

        check_report(cfg.report, cfg.eval.benchmarks, config_path or cfg.name)  # before any stage runs
        self.cfg, self.config_path, self.dir = cfg, config_path, cfg.run_dir
        examples = load_data(cfg.data, data_dir=cfg.data_dir)
        self.variants = plan(cfg, len(examples))
        if only:
            unknown = sorted(set(only) - {v.label for v in self.variants})
            if unknown:
                raise ConfigError(f"--only: no model labelled {', '.join(unknown)}; this config has "
                                  f"{', '.join(v.label for v in self.variants)}")
        trained = [v for v in self.variants if v.method != "seed"]
        self.n_max = max([v.sample_size or 0 for v in trained] + [min(cfg.sample or len(examples), len(examples))])
        self.sampled = sample_examples(examples, self.n_max, cfg.seed)
        # n_max and the sample above count every variant, so --only changes no stage key.
        self.trained = [v for v in trained if not only or v.label in only]
        self.common = {"model": cfg.model, "data_dir": cfg.data_dir, "seed": cfg.seed}
        self.followed = followed(cfg, self.variants)  # labels
        tb = "tensorboard" in cfg.train.report_to
        self.tensorboard = self.dir / "tensorboard" if tb else None
        self.distill = {t: self.distill_stage(t) for t in
                        sorted({v.template for v in self.trained if v.method == "sdft"}, key=str)}
        self.replay = self.replay_stage() if any(v.method == "replay" for v in self.trained) else None
        self.train: dict[str, Stage] = {}
        self.data: dict[str, Stage] = {}
        for v in self.trained:
            self.data[v.label] = self.data_stage(v)
            self.train[v.label] = self.train_stage(v, self.data[v.label])
        trained = {v.label for v in self.trained}
        self.points = [p for p in interpolation_points(cfg, self.variants) if p.of in trained]
        self.interp = {p.label: self.interp_stage(p) for p in self.points}
        main = {v.label for v in main_variants(cfg, self.variants)}
        self.predict = {v.label: st for v in self.trained if v.label in main and (st := self.predict_stage(
            v, self.train[v.label], self.eval_stage(v, self.train[v.label].folder, marker(self.train[v.label].key))))}

    # -- one builder per kind of stage; each returns the stage, nothing is run here

    def eval_stage(self, v: Variant, adapter: Path | None, adapter_marker: str | None = None,
                   section: Any = None, step: int | None = None) -> Stage:
        """Evaluate a model (a snapshot at ``step`` when given) with the eval section (or another).
        ``adapter_marker``: the ``.done`` text of a finished training folder (None for snapshots)."""
        from sdft.evaluate.evaluator import EvalConfig, run_eval

        where = f"{self.config_path}: " + ("trajectory.eval" if section is not None else "eval")
        ecfg = stage_config(EvalConfig, self.cfg.eval if section is None else section, where, **self.common,
                            adapter=str(adapter) if adapter else None, out="-")
        key = key_of("eval", keyed(ecfg, out="", adapter=None),
                     (adapter_marker or str(adapter)) if adapter else None)
        name = v.label if step is None else f"{v.label}@{step}"
        # The seed and final points keep the model's own label, so a dev-slice evaluation made
        # before (the calibration) with the same settings is found again, not redone.
        snapshot = adapter is not None and adapter_marker is None
        folder = self.dir / "eval" / f"{name if snapshot else v.label}-{key}"
        return Stage(f"eval/{name}", folder, key, lambda: run_eval(replace(ecfg, out=str(folder))), "eval",
                     ecfg, v, step)

    def distill_stage(self, template: str | None) -> Stage:
        from sdft.distill import DistillConfig, run_distill

        dcfg = stage_config(DistillConfig, self.cfg.distill, f"{self.config_path}: distill", **self.common,
                            data=self.cfg.data, sample=self.n_max, template=template, mix_ratio=1.0, out="-")
        key = key_of("distill", keyed(dcfg, out="", progress=True))
        folder = self.dir / "distill" / f"{Path(template or 'default').stem}-{key}"
        run_cfg = replace(dcfg, out=str(folder), push_to_hub=None)  # pushed by its own stage
        return Stage(f"distill/{template or 'default'}", folder, key, lambda: run_distill(run_cfg), "distill", dcfg)

    def data_stage(self, v: Variant) -> Stage:
        src = self.distill.get(v.template) if v.method == "sdft" else self.replay if v.method == "replay" else None
        described = asdict(replace(v, label="", train_seed=None))
        for k in ("alpha", "of"):  # fields newer than the pinned keys, None for every trained model
            described.pop(k)
        key = key_of("data", self.cfg.data, self.n_max, self.cfg.seed, described, marker(src.key) if src else None)
        folder = self.dir / "data" / f"{v.label}-{key}"

        def work():
            from sdft.train import replay, trainset

            replayed = replay.replay_rows(self.replay_pool(), src.folder / "answers.jsonl", self.replay_n()) \
                if v.method == "replay" else None
            distilled = src.folder / "distilled.jsonl" if v.method == "sdft" else None
            trainset.write_rows(folder, trainset.training_rows(v.method, self.sampled, v.sample_size, self.cfg.seed,
                                                               distilled=distilled, mix_ratio=v.mix_ratio,
                                                               replay_rows=replayed))
        return Stage(f"data/{v.label}", folder, key, work, "data", None, v)

    def replay_settings(self):
        """The train section's replay fields (a TrainConfig) and the seed's generation settings
        (the eval section's: how the seed answers when it is evaluated)."""
        from sdft.train import TrainConfig

        tcfg = stage_config(TrainConfig, self.cfg.train, f"{self.config_path}: train", **self.common, out="-")
        return tcfg, self.cfg.eval.generation

    def replay_pool(self):
        from sdft.train import replay

        return replay.replay_pool(self.replay_settings()[0].replay_data, self.cfg.seed, self.cfg.data_dir)

    def replay_n(self) -> int:
        """Replay rows beside the main sample's task rows (the share is of the mixed set)."""
        from sdft.train import replay

        n_task = len(self.sampled[: min(self.cfg.sample or len(self.sampled), len(self.sampled))])
        return replay.replay_count(n_task, self.replay_settings()[0].replay_share)

    def replay_stage(self) -> Stage:
        """The seed's answers to the replay prompts, generated once for every training seed."""
        from sdft.train import replay

        tcfg, gen = self.replay_settings()
        replay.check_disjoint(tcfg.replay_data, task_of(self.sampled) or Path(self.cfg.data).stem.split(":")[0])
        n = self.replay_n()
        gen_key = {k: v for k, v in asdict(gen).items() if k not in ("merge_adapter", "concurrency", "timeout_s")}
        key = key_of("replay", self.cfg.model, tcfg.replay_data, n, self.cfg.seed, tcfg.replay_max_new_tokens,
                     gen_key)
        folder = self.dir / "replay" / f"{tcfg.replay_data.replace(':', '_').replace('/', '_')}-{key}"

        def work():
            replay.generate_answers(self.cfg.model, self.replay_pool(), n, folder / "answers.jsonl",
                                    tcfg.replay_max_new_tokens, gen)
        return Stage("replay", folder, key, work, "replay", tcfg)

    def target_benchmark(self) -> str | None:
        """The benchmark of the training task (``data: gsm8k:train`` -> gsm8k), when evaluated."""
        from sdft import evaluate as battery

        task = Path(self.cfg.data.split(":")[0]).stem
        names = self.cfg.eval.benchmarks
        return task if task in battery.expand(names) else None

    def predict_stage(self, v: Variant, train: Stage, ev: Stage) -> Stage | None:
        """The KL between the fine-tune and the seed on its answers to the held-out task prompts
        (:func:`sdft.analyze.kl.kl_on_answers`); LoRA fine-tunes of an evaluated task only."""
        target = self.target_benchmark()
        if not self.cfg.kl_to_seed or target is None or train.cfg.full:
            return None
        from sdft.analyze.kl import ITEM_ORDER, kl_on_answers

        key = key_of("predict", target, 64, ITEM_ORDER, marker(ev.key), marker(train.key))
        folder = self.dir / "predict" / f"{v.label}-{key}"
        work = lambda: kl_on_answers(self.cfg.model, train.folder, ev.folder / target / "predictions.jsonl",  # noqa: E731
                                     folder, limit=64, data_dir=self.cfg.data_dir)
        return Stage(f"predict/{v.label}", folder, key, work, "predict", None, v)

    def interp_stage(self, p: Variant) -> Stage:
        """A main fine-tune's adapter with its update scaled by ``p.alpha`` (seconds of work)."""
        from sdft.train.interpolate import scaled_adapter

        train = self.train[p.of]
        key = key_of("interp", p.alpha, marker(train.key))
        folder = self.dir / "interp" / f"{p.label}-{key}"
        return Stage(f"interp/{p.label}", folder, key, lambda: scaled_adapter(train.folder, p.alpha, folder),
                     "interp", None, p)

    def train_stage(self, v: Variant, data: Stage) -> Stage:
        from sdft.experiment import TRAIN_METHOD
        from sdft.train import TrainConfig, run_train

        tcfg = stage_config(TrainConfig, self.cfg.train, f"{self.config_path}: train",
                            **{**self.common, "seed": v.train_seed}, data=str(data.folder / "train.jsonl"),
                            method=TRAIN_METHOD[v.method], out="-")
        tcfg = replace(tcfg, **others_left_out(v.method))  # the other methods' own fields, at their defaults
        if v.method == "onpolicy" and tcfg.teacher_template is None:  # the teacher reads distill.template
            from sdft.train.onpolicy import template_override

            tcfg = replace(tcfg, teacher_template=template_override(task_of(self.sampled),
                                                                    self.cfg.distill.template))
        key = key_of("train", keyed(tcfg, out="", data=""), data.key)
        folder = self.dir / "train" / f"{v.label}-{key}"
        # Pushed after evaluation; push_merged merges at training time here (not in the key: a
        # push added to a finished fine-tune merges it then, see push_train_stage).
        run_cfg = replace(tcfg, out=str(folder), merge=tcfg.merge or bool(tcfg.push_merged), push_to_hub=None,
                          push_merged=None)
        tb = self.tensorboard / v.label if self.tensorboard else None
        return Stage(f"train/{v.label}", folder, key, lambda: run_train(run_cfg, tensorboard_dir=tb), "train", tcfg, v)

    def push_train_stage(self, v: Variant, train: Stage, ev: Stage) -> Stage | None:
        tcfg = train.cfg
        if not (tcfg.push_to_hub or tcfg.push_merged):
            return None
        repo = f"{tcfg.push_to_hub}-{v.label}" if tcfg.push_to_hub else None
        merged = f"{tcfg.push_merged}-{v.label}" if tcfg.push_merged else None
        key = key_of("push", repo, merged, tcfg.hub_private, train.key, ev.key)
        folder = self.dir / "push" / f"{v.label}-{key}"

        def work():
            from sdft import hub

            urls = hub.push_training(train.folder, tcfg.model, tcfg.dtype, repo, merged, private=tcfg.hub_private,
                                     **self.card(v, ev.folder))
            write_json(folder / "pushed.json", {"repo": repo, "merged_repo": merged, "commits": urls})
        return Stage(f"push/{v.label}", folder, key, work, "push", None, v)

    def push_distill_stage(self, template: str | None, st: Stage) -> Stage | None:
        repo = st.cfg.push_to_hub
        if not repo:
            return None
        if len(self.distill) > 1:
            repo = f"{repo}-{Path(template or 'default').stem}"
        key = key_of("push", repo, st.cfg.hub_private, st.key)
        folder = self.dir / "push" / f"distill-{Path(template or 'default').stem}-{key}"

        def work():
            from sdft.distill.run import publish

            write_json(folder / "pushed.json", {"repo": repo, "commit": publish(st.folder, repo, st.cfg)})
        return Stage(f"push/distill-{template or 'default'}", folder, key, work, "push")

    def card(self, v: Variant, eval_dir: Path) -> dict[str, Any]:
        """Model card settings of a fine-tune once evaluated (see :func:`sdft.hub.model_card`)."""
        results = json.loads((eval_dir / "results.json").read_text(encoding="utf-8"))
        return {"results": results, "method": v.method, "title": f"{self.cfg.name}: {v.label}"}

    def trajectory(self, v: Variant, train: Stage | None) -> list[Stage]:
        """The dev-slice evaluations along one fine-tune: the seed (step 0), or each snapshot on
        disk and the final model (known only once the model is trained)."""
        section = self.cfg.trajectory.eval
        if train is None:
            return [self.eval_stage(v, None, None, section, 0)]
        points = sorted((int(p.name.split("-")[1]), p) for p in (train.folder / "snapshots").glob("step-*")
                        if p.is_dir())
        out = [self.eval_stage(v, p, None, section, step) for step, p in points]
        summary = train.folder / "train_summary.json"
        if summary.exists():
            steps = json.loads(summary.read_text())["steps"]
            out.append(self.eval_stage(v, train.folder, marker(train.key), section, steps))
        return out

    def main(self) -> list[Stage]:
        """The stages known before anything runs, in the order they run (trajectories aside)."""
        out = [self.eval_stage(self.variants[0], None)]
        if self.followed:
            out += self.trajectory(self.variants[0], None)
        for t, st in self.distill.items():
            out += [st] + [p for p in [self.push_distill_stage(t, st)] if p]
        if self.replay:
            out.append(self.replay)
        for v in self.trained:
            train = self.train[v.label]
            ev = self.eval_stage(v, train.folder, marker(train.key))
            out += [self.data[v.label], train, ev] + [p for p in [self.push_train_stage(v, train, ev)] if p]
            if v.label in self.predict:
                out.append(self.predict[v.label])
            for p in self.points:
                if p.of == v.label:
                    st = self.interp[p.label]
                    out += [st, self.eval_stage(p, st.folder, marker(st.key))]
        return out


def run_experiment(cfg: ExperimentConfig, config_path: str = "", only: list[str] | None = None,
                   blind: bool = False) -> Path:
    """Run (or resume) every stage of ``cfg``; ``only`` restricts the fine-tunes to those labels
    (the seed model is always evaluated), e.g. to calibrate one of them on a dev slice first.
    ``blind``: every model stage runs and writes its files, but no score is shown: no closing
    score table, no analysis or report built, no evaluation scores sent to TensorBoard (a
    pre-registered run whose numbers stay unread until its plan says; a hub push, whose model card
    carries the scores, is refused)."""
    from sdft import trackers
    from sdft.analyze.config import AnalyzeConfig
    from sdft.analyze.run import run_analyze
    from sdft.errors import ConfigError
    from sdft.logs import print_notes, print_summary
    from sdft.report.build import write_configured

    stages = Stages(cfg, config_path, only)
    whole = Stages(cfg, config_path) if only else None  # the other models' stages: built before any work
    pushes = [f"train.{k}" for k in ("push_to_hub", "push_merged") if getattr(cfg.train, k)]
    if blind and pushes:  # a pushed fine-tune's model card carries its scores
        raise ConfigError(f"{config_path or cfg.name}: a blind run shows no score, and {' and '.join(pushes)} "
                          "would publish them in the model cards; unset it or run without --blind")
    if stages.trained:  # lora_targets against the seed model's modules now, not when the first fine-tune starts
        try:
            replace(cfg.train, model=cfg.model).validate_targets_unloaded()
        except ConfigError as e:
            raise ConfigError(f"{config_path or cfg.name}: {e}") from None
    run = Run(cfg, config_path)
    run.manifest["trajectory"] = []

    def record(v: Variant, eval_dir: Path, adapter: Path | None, distill_dir: Path | None,
               plan: Stages = stages) -> None:
        kl = plan.predict.get(v.label)
        run.manifest["models"].append({
            **asdict(v), "model": cfg.model, "adapter": _rel(run.dir, adapter),
            "kl_dir": _rel(run.dir, kl and kl.folder),
            "eval_dir": _rel(run.dir, eval_dir), "train_dir": _rel(run.dir, adapter) if v.alpha is None else None,
            "distill_dir": _rel(run.dir, distill_dir)})
        run.save()

    def log_eval(st: Stage, step: int) -> None:  # its scores at ``step`` of its model's curves
        if stages.tensorboard and not blind:
            trackers.log_once(stages.tensorboard / st.variant.label, st.key, st.name, trackers.eval_scalars(st.folder),
                              step)

    def point(st: Stage) -> None:
        """A trajectory point (already run): into the manifest and the tracker."""
        v = st.variant
        log_eval(st, st.step)
        run.manifest["trajectory"].append({"label": v.label, "method": v.method, "train_seed": v.train_seed,
                                           "step": st.step, "eval_dir": _rel(run.dir, st.folder)})
        run.save()

    for st in stages.main():
        run.stage(st.name, st.folder, st.key, st.work, stage_dtype(st))
        v = st.variant
        if st.kind == "distill" and stages.tensorboard:
            trackers.log_once(stages.tensorboard / f"distill-{Path(st.cfg.template or 'default').stem}", st.key,
                              st.name, trackers.distill_scalars(st.folder))
        elif st.kind == "eval" and st.step is not None:  # the seed's point of the trajectory
            point(st)
        elif st.kind == "eval" and v.alpha is not None:  # a weight-interpolation point
            record(v, st.folder, stages.interp[v.label].folder, None)
            log_eval(st, 0)
        elif st.kind == "eval":  # a model's own evaluation
            train = stages.train.get(v.label)
            src = stages.distill.get(v.template) if v.method == "sdft" else None
            record(v, st.folder, train and train.folder, src and src.folder)
            steps = json.loads((train.folder / "train_summary.json").read_text())["steps"] if train else 0
            log_eval(st, steps)
            if train:
                from sdft import hub

                hub.write_model_card(train.folder, **stages.card(v, st.folder))
                if v.label in stages.followed:
                    for t in stages.trajectory(v, train):  # the snapshots exist now
                        run.stage(t.name, t.folder, t.key, t.work, stage_dtype(t))
                        point(t)

    if whole is not None:  # the config's other models, evaluated in earlier sittings, stay in the manifest
        _record_evaluated_elsewhere(run, whole, set(stages.train), record)

    # 3. Shift analysis and the report: cheap, always rebuilt from the saved files (a blind run
    # builds neither: the analysis prints its measures on the test answers, the report the scores).
    if blind:
        done = len(run.manifest["models"])  # a model is recorded once its evaluation is done
        stale = " (the report/ folder there is from an earlier run)" if (run.dir / "report").exists() else ""
        log.info("blind run: %d models evaluated, no score shown, no analysis or report built%s; when the plan "
                 "says, `sdft run` without --blind or `sdft report %s`", done, stale, run.dir)
        print_notes(run.manifest["notes"])
        return run.dir
    acfg = stage_config(AnalyzeConfig, cfg.analyze, f"{config_path}: analyze", out=str(run.dir / "analysis"))
    run.after("analyze", "analysis", lambda: run_analyze(acfg, run.dir))
    # (the verdict, a person's sentence, stays the one summary.json already holds unless set)
    report = run.after("report", "report", lambda: write_configured([run.dir], run.dir / "report", cfg.report))
    print_summary(run.dir, run.manifest["models"], run.manifest["notes"])
    log.info("report: %s (and report.md beside it)", report["html"])
    return run.dir


def _record_evaluated_elsewhere(run: Run, whole: Stages, ran: set[str], record) -> None:
    """An ``--only`` sitting records the models it ran (``ran``: their labels, the seed aside);
    every other model of the config whose evaluation stage is done in the run folder (marked with
    the key this config gives it, so a dev config's evaluations there are not taken) is recorded
    too, with its finished trajectory points, and both lists are put in the plan's order, as a full
    run would have written them."""
    from sdft.stages import marked_done

    evals = [st for st in whole.main() if st.kind == "eval" and st.step is None]
    for v in whole.trained:
        if v.label in whole.followed and v.label not in ran:
            run.manifest["trajectory"] += [
                {"label": v.label, "method": v.method, "train_seed": v.train_seed, "step": t.step,
                 "eval_dir": _rel(run.dir, t.folder)}
                for t in whole.trajectory(v, whole.train[v.label]) if marked_done(t.folder, t.key)]
    have = {m["label"] for m in run.manifest["models"]}
    for st in evals:
        v = st.variant
        if v.label in have or not marked_done(st.folder, st.key):
            continue
        if v.alpha is not None:  # a weight-interpolation point
            record(v, st.folder, whole.interp[v.label].folder, None, whole)
            continue
        train = whole.train.get(v.label)
        src = whole.distill.get(v.template) if v.method == "sdft" else None
        record(v, st.folder, train and train.folder, src and src.folder, whole)
    order = {st.variant.label: i for i, st in enumerate(evals)}
    run.manifest["models"].sort(key=lambda m: order.get(m["label"], len(order)))
    run.manifest["trajectory"].sort(key=lambda t: (order.get(t["label"], len(order)), t["step"]))
    run.save()


def _rel(root: Path, p: Path | None) -> str | None:
    return str(p.relative_to(root)) if p else None
