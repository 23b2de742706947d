"""Training objectives beyond TRL's own, and the cost meter every method reports.

**KL to the seed** (``method=kl``): the SFT loss plus ``beta`` times the KL divergence
KL(model || seed) over the whole vocabulary at every response position (where the SFT loss is
taken), both sums divided by the same token count TRL's SFT loss uses. The seed's distribution
comes from the same model with its LoRA adapter disabled (no second copy in memory); the LM
head is applied to the response positions only. A full fine-tune has no adapter to disable, so
``kl`` needs LoRA (:class:`sdft.train.config.TrainConfig` says so before anything loads).

**Cost**: :class:`CostMeter` counts what a method spends, the same way for every trainer:
forward passes of the transformer trunk (every call: training, the seed's or teacher's
forward, each decoding step of on-policy sampling), those that ran with gradients (each is
followed by one backward pass in these trainers), and the token positions they processed.
"""

from __future__ import annotations

import contextlib


def _trunk_and_head(model):
    """The transformer trunk (hidden states) and the LM head of a plain or PEFT-wrapped model."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.get_decoder(), base.get_output_embeddings()


def kl_terms(model, inputs: dict) -> tuple:
    """``(ce_sum, kl_sum, n_tokens)`` over the labelled (response) positions of a batch of
    ``input_ids``/``labels`` rows: the summed cross-entropy of the model, the summed
    KL(model || seed) with the seed being ``model`` with its adapter disabled, and how many
    positions were summed. ``model`` must be a PEFT model."""
    import torch
    import torch.nn.functional as F

    trunk, head = _trunk_and_head(model)
    labels = inputs["labels"]
    fwd = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask", "position_ids")}
    target = labels[:, 1:]
    mask = target != -100

    def logprobs():
        hidden = trunk(**fwd).last_hidden_state[:, :-1][mask]
        return F.log_softmax(head(hidden).float(), dim=-1)

    lp = logprobs()
    with torch.no_grad(), model.disable_adapter():
        lp_seed = logprobs()
    ce_sum = -lp.gather(-1, target[mask].unsqueeze(-1)).sum()
    kl_sum = (lp.exp() * (lp - lp_seed)).sum()
    return ce_sum, kl_sum, mask.sum()


def kl_trainer(trainer_cls, beta: float):
    """``trainer_cls`` (TRL's SFTTrainer or a subclass) whose loss is SFT + ``beta`` KL to the seed."""

    class KLToSeedTrainer(trainer_cls):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            ce_sum, kl_sum, n = kl_terms(model, inputs)
            denom = n if num_items_in_batch is None else num_items_in_batch
            loss = (ce_sum + beta * kl_sum) / denom
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # as TRL's SFT loss: DDP averages ranks
            mode = "train" if model.training else "eval"
            self._metrics[mode]["kl_to_seed"].append((kl_sum / n.clamp(min=1)).item())
            self._metrics[mode]["ce"].append((ce_sum / n.clamp(min=1)).item())
            if return_outputs:
                raise ValueError("method kl: compute_loss does not return outputs (no evaluation set is used)")
            return loss

    return KLToSeedTrainer


class CostMeter:
    """Counts trunk forward passes, those with gradients and the token positions they process,
    from the moment it is attached to a model until :meth:`close`."""

    def __init__(self, counted: bool = True):
        self.counted = counted
        self.forward_passes = 0
        self.backward_passes = 0
        self.tokens_forwarded = 0
        self._handle = None

    def attach(self, model) -> CostMeter:
        import torch

        trunk, _ = _trunk_and_head(model)

        def hook(module, args, kwargs):
            ids = kwargs.get("input_ids", args[0] if args else None)
            if ids is None:
                emb = kwargs.get("inputs_embeds")
                n = emb.shape[0] * emb.shape[1] if emb is not None else 0
            else:
                n = ids.numel()
            self.forward_passes += 1
            self.tokens_forwarded += int(n)
            if torch.is_grad_enabled() and module.training:
                self.backward_passes += 1

        self._handle = trunk.register_forward_pre_hook(hook, with_kwargs=True)
        return self

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def as_dict(self) -> dict:
        if not self.counted:
            return {"forward_passes": None, "backward_passes": None, "tokens_forwarded": None}
        return {"forward_passes": self.forward_passes, "backward_passes": self.backward_passes,
                "tokens_forwarded": self.tokens_forwarded}


def reset_peak_rss() -> bool:
    """Reset the kernel's peak resident-set counter of this process (Linux: ``5`` into
    /proc/self/clear_refs), so the next :func:`peak_rss_mb` is the peak since now; False where
    that is not possible (the peak is then the process's lifetime peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb(field: str = "VmHWM") -> float:
    """Peak resident memory of this process in MiB (VmHWM; ``field="VmRSS"``: the current one),
    else getrusage's lifetime peak."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@contextlib.contextmanager
def metered(model, enabled: bool = True):
    """A :class:`CostMeter` on ``model`` for the block. ``enabled=False`` (torch.compile: a Python
    counter in a hook would make the compiled graph recompile every step) leaves its counts None."""
    if not enabled:
        yield CostMeter(counted=False)
        return
    meter = CostMeter().attach(model)
    try:
        yield meter
    finally:
        meter.close()
