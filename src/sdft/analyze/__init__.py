"""What the fine-tune did to the model: its distribution shift from the seed model.

``run`` is `sdft analyze`: ``pairs`` pairs each fine-tuned model's outputs with the seed's and
measures how far they moved (``similarity``) and how far the weights moved (``shift``); ``nll``
reads the distillations' NLL gaps, ``kl`` measures the KL to the seed on the fine-tune's own
answers (the pipeline's ``predict`` stage); ``figures`` draws the similarity histograms.
``runfiles`` reads a run folder, for this package and for :mod:`sdft.report`, which turns the
saved numbers into what a reader sees. ``AnalyzeConfig`` (in ``config``) is the stage's settings.
"""

from sdft.analyze.config import AnalyzeConfig

__all__ = ["AnalyzeConfig"]
