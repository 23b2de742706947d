"""What a reader sees: ``report.md``, a self-contained ``report.html`` and ``summary.json``.

``build`` is `sdft report`: it reads run folders' saved files only (:mod:`sdft.analyze.runfiles`)
and assembles the blocks ``render`` writes as markdown and HTML. ``endpoints`` names what is
compared, ``arms`` groups fine-tunes over training seeds and computes the numbers every table
shares, ``tables``/``run_tables``/``ifeval_table`` (cells formatted by ``cells``), ``figures``
and ``curves`` show them, ``flips`` browses per-item changes, ``decision`` applies the
pre-registered rule, ``finding`` says the result in words, ``methods`` and ``predictors``
compare several methods. ``ReportConfig`` (``sdft.report_config``, below the experiment config
that holds it as a section) is the stage's settings.
"""

from sdft.report_config import ReportConfig

__all__ = ["ReportConfig"]
