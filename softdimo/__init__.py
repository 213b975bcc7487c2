"""softdimo: one-step discrete image generators distilled from masked diffusion models (Di[M]O, Soft-Di[M]O)."""

__version__ = "0.1.0"
