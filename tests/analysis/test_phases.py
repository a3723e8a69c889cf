import numpy as np
import pandas as pd
import pytest

from grokinterp.analysis.phases import phase_boundaries


def _curve(steps, peak, fall_start, fall_end):
    """log test loss: rises to a peak, flat, then falls linearly from fall_start to fall_end."""
    log_l = np.where(steps <= peak, steps / peak * 3.0, 3.0)
    frac = np.clip((steps - fall_start) / (fall_end - fall_start), 0, 1)
    log_l = log_l - frac * 10.0  # from 3 to -7
    return np.exp(log_l)


def test_boundaries_on_a_curve_with_known_shape():
    steps = np.arange(0, 20001, 100)
    loss = _curve(steps, peak=1400, fall_start=9000, fall_end=14000)
    acc = np.where(steps >= 12000, 1.0, 0.1)
    table = pd.DataFrame(
        {
            "step": steps,
            "test_loss": loss,
            "test_acc": acc,
            "train_acc": np.where(steps >= 300, 1.0, 0.5),
        }
    )
    ph = phase_boundaries(table)
    assert ph["memorization_end"] == 1400
    # 10% of the fall of log loss is 500 steps into the linear fall, 90% is 4500 steps in
    assert ph["circuit_formation_end"] == 9500
    assert ph["cleanup_end"] == 13500
    assert (ph["grokking_step"], ph["train_99_step"], ph["test_99_step"]) == (12000, 300, 12000)


def test_a_run_that_never_generalizes_has_no_later_phases():
    steps = np.arange(0, 5001, 100)
    table = pd.DataFrame(
        {
            "step": steps,
            "test_loss": np.minimum(1 + steps / 1000, 3.0),
            "test_acc": 0.05,
            "train_acc": 1.0,
        }
    )
    ph = phase_boundaries(table)
    assert ph["memorization_end"] is not None
    assert ph["circuit_formation_end"] is None and ph["cleanup_end"] is None
    assert ph["grokking_step"] is None


def test_order_of_rows_does_not_matter_and_bad_fractions_raise():
    steps = np.arange(0, 20001, 100)
    table = pd.DataFrame({"step": steps, "test_loss": _curve(steps, 1400, 9000, 14000)})
    assert phase_boundaries(table.sample(frac=1, random_state=0)) == phase_boundaries(table)
    with pytest.raises(ValueError, match="start_frac"):
        phase_boundaries(table, start_frac=0.9, end_frac=0.1)


def _acc_table(train_at, test_curve):
    steps = np.arange(0, 5001, 50)
    return pd.DataFrame(
        {
            "step": steps,
            "train_acc": np.where(steps >= train_at, 1.0, 0.1),
            "test_acc": test_curve(steps),
        }
    )


def test_liu_phases_on_known_curves():
    from grokinterp.analysis.phases import liu_phase

    assert liu_phase(_acc_table(200, lambda s: np.where(s >= 800, 0.95, 0.1))) == "comprehension"
    assert liu_phase(_acc_table(200, lambda s: np.where(s >= 3000, 0.95, 0.1))) == "grokking"
    assert liu_phase(_acc_table(200, lambda s: np.full(len(s), 0.3))) == "memorization"
    assert liu_phase(_acc_table(10**6, lambda s: np.full(len(s), 0.3))) == "confusion"


def test_plateau_classes_on_known_curves():
    from grokinterp.analysis.phases import plateau_class

    assert plateau_class(_acc_table(200, lambda s: np.where(s >= 3000, 1.0, 0.05))) == "grokked"
    # delayed rise to a middling plateau: semi-grokking
    assert (
        plateau_class(_acc_table(200, lambda s: np.where(s >= 3000, 0.5, 0.05))) == "semi-grokked"
    )
    # a middling accuracy from the start is no delayed rise
    assert plateau_class(_acc_table(200, lambda s: np.full(len(s), 0.5))) == "memorized"
    assert plateau_class(_acc_table(200, lambda s: np.full(len(s), 0.05))) == "memorized"
    assert plateau_class(_acc_table(10**6, lambda s: np.full(len(s), 0.05))) == "unfitted"
    # still climbing at the end of the budget (measured: a run at D = 795 of the study,
    # 0.78 and rising): no plateau yet, not semi-grokked
    assert plateau_class(_acc_table(200, lambda s: np.clip(s / 7000, 0.02, 1.0))) == "rising"
