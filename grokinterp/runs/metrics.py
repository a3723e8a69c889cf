"""A run's logged metrics: the grokking landmarks in them (when train and test accuracy
first pass a threshold, and the delay between the two: Power et al. 2022's measure)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Landmarks:
    """Grokking landmarks from the logged metrics.

    Args:
        threshold: the accuracy threshold used (0.99 by default).
        train_step: first logged step with train accuracy >= threshold (None if never).
        test_step: first logged step with test accuracy >= threshold (None if never).
        delay: ``test_step - train_step``: how long generalization lagged memorization.
    """

    threshold: float
    train_step: int | None
    test_step: int | None

    @property
    def delay(self) -> int | None:
        if self.train_step is None or self.test_step is None:
            return None
        return self.test_step - self.train_step

    @property
    def grokked(self) -> bool:
        return self.test_step is not None


def landmarks(metrics: pd.DataFrame, threshold: float = 0.99) -> Landmarks:
    """First logged steps where train and test accuracy reach ``threshold``."""

    def first(col: str) -> int | None:
        if col not in metrics:  # e.g. imported runs that logged only losses
            return None
        hit = metrics.loc[metrics[col] >= threshold, "step"]
        return int(hit.iloc[0]) if len(hit) else None

    return Landmarks(threshold, first("train_acc"), first("test_acc"))
