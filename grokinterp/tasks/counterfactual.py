"""A treatment-effect task with a known individual effect: the ``counterfactual`` task.

Counterfactual inference asks, for every unit, how its outcome would change under the
treatment it did not get. A data set of such units shows each unit's *factual* outcome only
(that of the arm it was assigned), so a model is trained on factual outcomes and judged on the
effects, which a synthetic generator knows exactly.

The generator is Hill's (2011) IHDP "response surface B" (Hill, "Bayesian nonparametric
modeling for causal inference", J. Comput. Graph. Stat. 20(1), Sec. 4.1), the surface of the
IHDP benchmark that Johansson et al. 2016 (arXiv 1605.03661), Shalit et al. 2017 (arXiv
1606.03976, TARNet) and Samothrakis et al. 2022 (IJCNN, "Grokking-like effects in
counterfactual inference") report on, applied to *simulated* covariates (the IHDP covariates
are a real study's and are not shipped):

* covariates: ``n_samples`` units of 25 covariates, as IHDP has: 6 continuous, each N(0, 1)
  (IHDP's are standardized), and 19 binary, each Bernoulli(1/2);
* coefficients: each entry of beta (25) drawn from {0, 0.1, 0.2, 0.3, 0.4} with
  probabilities (0.6, 0.1, 0.1, 0.1, 0.1) (Hill's beta_B);
* potential outcomes without noise: ``mu0(x) = exp((x + 0.5) beta)`` (Hill's offset matrix
  W, every entry 0.5) and ``mu1(x) = x beta - omega``, with omega set so that the mean
  effect over the treated units is 4 (Hill's CATT of 4);
* the individual effect ``tau(x) = mu1(x) - mu0(x) = x beta - omega - exp((x + 0.5) beta)``;
* confounded assignment (ours: IHDP's confounding comes from removing a non-random subset of
  the treated children of a randomized study, which simulated covariates cannot copy):
  ``t ~ Bernoulli(sigmoid(a + x_c gamma))`` on the 6 continuous covariates ``x_c``, gamma
  each N(0, 1/6) and a = logit(0.19) (IHDP treats 139 of its 747 units, 0.19), so units
  with a large ``x_c gamma`` are treated more often, and those covariates also move both
  outcomes: a model that fits the factual outcomes of each arm sees the treated units in
  another region of covariate space than the controls;
* factual outcome ``y = mu_t(x) + e``, e ~ N(0, 1) (Hill's unit-variance noise).

Draw order (all from ``numpy.random.default_rng(data_seed)``): beta, gamma, the continuous
covariates, the binary covariates, the assignment's uniforms, the noise; so the data set is a
function of ``data_seed`` and ``n_samples`` alone.

The estimand (:func:`effect_errors`): the precision in estimating heterogeneous effects,
``PEHE = sqrt(mean_i (tau_hat(x_i) - tau(x_i))^2)`` (Hill 2011; Shalit et al. 2017 report
its square root, epsilon_PEHE, as here), and the error of the average effect
``|mean_i tau_hat(x_i) - mean_i tau(x_i)|``, each over a set of units: the training units
("within-sample": their counterfactual outcomes were never shown) or the held-out units
("out-of-sample").

The neural trainer reads it as a regression with two heads: the MLP on the 25 covariates
(``mlp_input="features"``) has two outputs, ``mu0_hat`` and ``mu1_hat`` (a TARNet-like
network: a shared hidden representation and one linear head per arm), and the loss
``factual_mse`` (:func:`grokinterp.models.factual_mse64`) trains only the head of the arm
each unit was assigned. The data set's ``labels`` are then float rows ``(t, y)`` and its
``potential`` rows ``(mu0, mu1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokinterp.tasks.registry import TaskSettings, TaskSpec, register

FloatArray = np.ndarray

N_CONTINUOUS, N_BINARY = 6, 19  # IHDP's covariates: 6 continuous, 19 binary
N_COVARIATES = N_CONTINUOUS + N_BINARY
BETA_VALUES = (0.0, 0.1, 0.2, 0.3, 0.4)  # Hill 2011's beta_B entries
BETA_PROBS = (0.6, 0.1, 0.1, 0.1, 0.1)
OFFSET = 0.5  # Hill's W: every entry 0.5
CATT = 4.0  # the mean effect over the treated units (Hill's omega_B sets it)
TREATED_SHARE = 0.19  # IHDP: 139 treated of 747
NOISE_SD = 1.0


@dataclass(frozen=True)
class EffectData:
    """A counterfactual data set (module doc): covariates, assignment, factual outcomes and
    the noise-free potential outcomes.

    Attributes:
        x: covariates, (unit, 25) float64: 6 continuous, then 19 binary.
        t: the assigned arm, 0 (control) or 1 (treated), int64.
        y: the factual outcome ``mu_t(x) + e``.
        mu0: the noise-free outcome under control, ``exp((x + 0.5) beta)``.
        mu1: the noise-free outcome under treatment, ``x beta - omega``.
        beta: the outcome coefficients (25).
        omega: the shift that makes the treated units' mean effect 4.
        propensity: each unit's probability of treatment, ``sigmoid(a + x_c gamma)``.
    """

    x: FloatArray
    t: np.ndarray
    y: FloatArray
    mu0: FloatArray
    mu1: FloatArray
    beta: FloatArray
    omega: float
    propensity: FloatArray

    @property
    def tau(self) -> FloatArray:
        """The individual effects ``mu1 - mu0``."""
        out: FloatArray = self.mu1 - self.mu0
        return out


def generate(n: int, seed: int) -> EffectData:
    """``n`` units of Hill's response surface B on simulated covariates, seeded by ``seed``
    (module doc). Needs at least one treated unit (omega is their mean): with n >= 2 a
    draw without one is redrawn from the same stream, so the result is still a function of
    (n, seed)."""
    if n < 2:
        raise ValueError(f"the counterfactual task needs at least 2 units, got {n}")
    rng = np.random.default_rng(seed)
    beta = rng.choice(np.array(BETA_VALUES), size=N_COVARIATES, p=np.array(BETA_PROBS))
    gamma = rng.normal(0.0, 1.0 / np.sqrt(N_CONTINUOUS), size=N_CONTINUOUS)
    x_c = rng.normal(size=(n, N_CONTINUOUS))
    x_b = rng.integers(0, 2, size=(n, N_BINARY)).astype(np.float64)
    x = np.concatenate([x_c, x_b], axis=1)
    intercept = np.log(TREATED_SHARE / (1 - TREATED_SHARE))
    propensity = 1.0 / (1.0 + np.exp(-(intercept + x_c @ gamma)))
    t = (rng.random(n) < propensity).astype(np.int64)
    while not t.any():  # omega is the treated units' mean: redraw the assignment
        t = (rng.random(n) < propensity).astype(np.int64)
    mu0 = np.exp((x + OFFSET) @ beta)
    linear = x @ beta
    omega = float(np.mean(linear[t == 1] - mu0[t == 1]) - CATT)
    mu1 = linear - omega
    noise = rng.normal(0.0, NOISE_SD, size=n)
    y = np.where(t == 1, mu1, mu0) + noise
    return EffectData(x, t, y, mu0, mu1, beta, omega, propensity)


def counterfactual(cfg: TaskSettings) -> EffectData:
    """The task config's data set: ``n_samples`` units from ``data_seed``."""
    assert cfg.n_samples is not None  # the config validates it
    return generate(cfg.n_samples, cfg.data_seed)


def effect_errors(tau_hat: FloatArray, tau: FloatArray) -> tuple[float, float]:
    """``(PEHE, ATE error)`` of estimated effects ``tau_hat`` against the true ``tau`` over
    the same units: ``sqrt(mean (tau_hat - tau)^2)`` (Hill 2011's precision in estimating
    heterogeneous effects, as its square root epsilon_PEHE in Shalit et al. 2017, arXiv
    1606.03976, Sec. 5) and ``|mean tau_hat - mean tau|``."""
    a, b = np.asarray(tau_hat, dtype=np.float64), np.asarray(tau, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"give two non-empty vectors of one length, got {a.shape}, {b.shape}")
    return float(np.sqrt(np.mean((a - b) ** 2))), float(abs(a.mean() - b.mean()))


register(
    TaskSpec(
        "counterfactual",
        "treatment effects: factual outcomes of Hill's IHDP surface B on simulated "
        "covariates, two heads (mu0, mu1), known individual effects",
        "samples",
        None,
        target="real",
        neural=True,
        n_features=N_COVARIATES,
    )
)
