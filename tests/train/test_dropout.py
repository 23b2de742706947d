"""The cheap LoRA dropout draws the same distribution as nn.Dropout, and backward uses its mask."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from sdft.train.dropout import CheapDropout, cheapen_lora_dropout  # noqa: E402

N = 1_000_003  # not a multiple of the four lanes a 64-bit draw is cut into


@pytest.mark.parametrize("p", [0.05, 0.5])
def test_drops_independently_with_probability_p_and_keeps_the_expectation(p):
    torch.manual_seed(0)
    drop = CheapDropout(p).train()
    out = drop(torch.ones(N))
    dropped = out == 0
    sigma = (p * (1 - p) / N) ** 0.5
    assert abs(dropped.float().mean().item() - p) < 5 * sigma
    assert torch.allclose(out[~dropped], torch.tensor(1 / (1 - p)), rtol=1e-4)  # survivors scaled
    assert abs(out.mean().item() - 1.0) < 5 * sigma / (1 - p)
    # neighbours share a 64-bit draw: their masks must still be independent
    both = (dropped[:-1] & dropped[1:]).float().mean().item()
    assert abs(both - p * p) < 5 * (p * p * (1 - p * p) / N) ** 0.5
    for lane in range(4):  # and every 16-bit lane of a draw is uniform
        share = dropped[: N - N % 4].view(-1, 4)[:, lane].float().mean().item()
        assert abs(share - p) < 5 * sigma * 2


def test_backward_passes_the_gradient_through_the_same_mask():
    torch.manual_seed(1)
    x = torch.randn(64, 96, requires_grad=True)
    out = CheapDropout(0.3).train()(x)
    out.backward(torch.ones_like(out))
    kept = out != 0
    assert torch.equal(x.grad != 0, kept)
    assert torch.allclose(x.grad[kept], torch.tensor(1 / 0.7), rtol=1e-3)


def test_seeded_draws_repeat_and_eval_mode_is_the_identity():
    x = torch.randn(33, 17)
    drop = CheapDropout(0.2).train()
    torch.manual_seed(5)
    a = drop(x)
    torch.manual_seed(5)
    assert torch.equal(a, drop(x))
    assert not torch.equal(a, drop(x))  # the next draw differs
    assert drop.eval()(x) is x
    assert CheapDropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match="dropout probability"):
        CheapDropout(1.0)
    nearly_all = CheapDropout(1 - 2**-20).train()(torch.ones(1000))
    assert torch.isfinite(nearly_all).all()  # never a division by a zero keep probability


def test_swaps_only_the_lora_dropouts_and_keeps_p():
    peft = pytest.importorskip("peft")
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj, self.v_proj, self.drop = nn.Linear(8, 8), nn.Linear(8, 8), nn.Dropout(0.1)

        def forward(self, x):
            return self.v_proj(self.drop(self.q_proj(x)))

    model = peft.get_peft_model(Tiny(), peft.LoraConfig(r=2, lora_dropout=0.05, target_modules=["q_proj", "v_proj"]))
    assert cheapen_lora_dropout(model) == 2
    swapped = [m for m in model.modules() if isinstance(m, CheapDropout)]
    assert len(swapped) == 2 and all(m.p == 0.05 for m in swapped)
    assert type(model.base_model.model.drop) is nn.Dropout  # the model's own dropout is not LoRA's
    assert cheapen_lora_dropout(model) == 0  # nothing left to swap
    model(torch.randn(4, 8)).sum().backward()
    assert model.base_model.model.q_proj.lora_A["default"].weight.grad is not None
