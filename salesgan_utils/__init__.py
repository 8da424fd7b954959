"""SalesGAN utilities: the logic behind the five notebooks (see docs/architecture.md)."""

__version__ = "0.1.0"
