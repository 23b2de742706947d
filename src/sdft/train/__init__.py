"""Fine-tuning: TRL + PEFT, vanilla and SDFT on the same trainer (see :mod:`sdft.train.trainer`)."""

from sdft.train.config import TrainConfig


def run_train(cfg: TrainConfig, callbacks: list | None = None, **kw) -> dict:
    """See :func:`sdft.train.trainer.run_train` (imported on call: it pulls in torch and TRL)."""
    from sdft.train.trainer import run_train as _run

    return _run(cfg, callbacks, **kw)


__all__ = ["TrainConfig", "run_train"]
