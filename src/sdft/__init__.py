"""sdft: Self-Distillation Fine-Tuning of chat language models (Yang et al., ACL 2024)."""

__version__ = "0.1.0"
