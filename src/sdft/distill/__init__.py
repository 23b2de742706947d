"""Self-distillation: the seed model rewrites each reference answer, and a faithful rewrite
replaces the original (SDFT, Yang et al., ACL 2024). Nothing heavy is imported here; the model
loads only when rewrites are missing."""

from sdft.distill.output import load_distilled
from sdft.distill.run import DistillConfig, run_distill
from sdft.distill.select import CHECKS
from sdft.distill.templates import TEMPLATES, load_template

__all__ = ["CHECKS", "TEMPLATES", "DistillConfig", "load_distilled",
           "load_template", "run_distill"]
