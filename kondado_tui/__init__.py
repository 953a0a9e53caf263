"""kondado-tui: a terminal monitor for Kondado data pipelines."""

__version__ = "0.1.0"
