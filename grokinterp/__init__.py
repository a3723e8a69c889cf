"""grokinterp: train, checkpoint and dissect grokking models."""

__version__ = "0.1.0"
