"""Named configurations for ``grokinterp train --preset``.

* ``nanda``: Nanda et al. 2023 (arXiv 2301.05217): a + b mod 113, 30% of pairs for
  training, 1-layer transformer (d_model 128, 4 heads of 32, d_mlp 512, ReLU, no
  LayerNorm), full-batch AdamW lr 1e-3, weight decay 1, betas (0.9, 0.98), 10 warm-up
  steps, 40k steps. About 0.04 s a step on 2 CPU cores with our forward.
* ``quick``: a smaller setup that groks in well under 3 minutes on 2 CPU cores (see
  README for the measured landmarks); for demos and tests.
* ``efficiency``: the CPU-sized circuit-efficiency study (Varma et al. 2023; README,
  "Circuit efficiency"): a + b mod 47 as ``quick``, on a narrower transformer (d_model 64,
  4 heads of 16, d_mlp 256), so that dozens of runs fit in minutes on 2 cores.
* ``omnigrok_digits``: Omnigrok's MNIST grokking setup (Liu, Michaud & Tegmark 2023, arXiv
  2210.01117) on scikit-learn's 8x8 digits: 200 of the 1,797 images for training, an MLP of
  two ReLU hidden layers of 200 on the 64 pixels (theirs: 784 pixels, depth 3, width 200),
  initialization scale alpha = 8, MSE loss against one-hot labels, AdamW lr 1e-3, betas
  (0.9, 0.999), no warm-up. Where we differ: full batch (theirs: 200 of 1,000 MNIST images
  a batch), weight decay 1.0 instead of their 0.01 (the delay scales as 1/weight decay in
  their account, so 5,000 steps suffice on CPU instead of their 10^5), Gaussian
  N(0, 1/fan_in) weights and zero biases times alpha (theirs: PyTorch's uniform default,
  whose weights have std 1/sqrt(3 fan_in), biases included, times alpha).

* ``liu_toy``: the toy setting of Liu et al. 2022 (arXiv 2205.10343), read from their
  public code (``toy/train_add.py``, the addition-classification variant of their phase
  diagrams): the integer addition table ``a + b`` for ``0 <= a <= b < 10`` (55 pairs, 19
  classes), 45 of them for training; a 1-dimensional learnable embedding of each number, the
  two added, decoded by an MLP of two tanh hidden layers of 200; cross-entropy; AdamW with lr
  1e-3 and no weight decay for the embedding and lr 1e-4 (their default; the phase diagrams
  sweep it with the decoder's weight decay) for the decoder, betas (0.9, 0.999), no warm-up,
  full batch (their batch equals the 45 training pairs), 10^4 steps; their initialization
  (``mlp_init="uniform"``: PyTorch's default layers, the embedding U(-1/2, 1/2)). Where we
  differ: our output layer has no bias, our loss is computed in float64, and the split is
  drawn by our seeded permutation: split seed 1, one whose test pairs the effective theory
  can all answer (with 45 of 55 pairs, a sum that only one pair has, such as 0 + 0, is
  unreachable when that pair is a test pair; split seed 0 caps test accuracy at 0.8, below
  the phase diagrams' 90% threshold).

The non-neural presets (:data:`NONNEURAL_PRESETS`, for ``grokinterp nonneural``) are the
settings of Miller, O'Neill and Bui 2024 (arXiv 2310.17247), read from their public code:

* ``miller_gp``: the variational GP classifier on concealed parity: 3 parity bits among 40,
  1000 training and 100 test strings, Adam lr 1e-2 (betas 0.9, 0.999), 500 full-batch steps.
* ``miller_linear``: the linear model on ``linear_features``: 2 training and 98 test points,
  noise variance 0.002, prior variance 0.5, Miller et al.'s high-complexity start, plain
  gradient descent with lr 1e-3 for 5000 steps.
"""

from __future__ import annotations

from grokinterp.config import ModelConfig, OptimConfig, ScheduleConfig, TaskConfig, TrainConfig
from grokinterp.errors import ConfigError

PRESETS: dict[str, TrainConfig] = {
    "nanda": TrainConfig(
        task=TaskConfig(name="add", p=113, train_fraction=0.3),
        model=ModelConfig(),
        optim=OptimConfig(max_steps=40_000),
        schedule=ScheduleConfig(
            log_every=10, ckpt_log_until=1000, ckpt_log_count=30, ckpt_every=250
        ),
    ),
    "quick": TrainConfig(
        task=TaskConfig(name="add", p=47, train_fraction=0.4),
        model=ModelConfig(),
        optim=OptimConfig(lr=3e-3, max_steps=3000),
        # a dozen checkpoints (10 MB), so that the shipped run stays small
        schedule=ScheduleConfig(log_every=10, ckpt_log_until=300, ckpt_log_count=7, ckpt_every=500),
    ),
    "efficiency": TrainConfig(
        task=TaskConfig(name="add", p=47, train_fraction=0.4),
        model=ModelConfig(d_model=64, n_heads=4, d_head=16, d_mlp=256),
        optim=OptimConfig(lr=3e-3, max_steps=3000),
        schedule=ScheduleConfig(
            log_every=10, ckpt_log_until=300, ckpt_log_count=4, ckpt_every=1000
        ),
    ),
    "omnigrok_digits": TrainConfig(
        task=TaskConfig(name="digits", p=None, train_fraction=None, train_size=200),
        model=ModelConfig(arch="mlp", n_layers=2, d_mlp=200, mlp_input="features", init_scale=8.0),
        optim=OptimConfig(
            lr=1e-3, weight_decay=1.0, beta2=0.999, warmup_steps=0, loss="mse", max_steps=5000
        ),
        schedule=ScheduleConfig(
            log_every=25, ckpt_log_until=1000, ckpt_log_count=10, ckpt_every=1000
        ),
    ),
    "liu_toy": TrainConfig(
        task=TaskConfig(name="int_add", p=10, train_fraction=None, train_size=45, split_seed=1),
        model=ModelConfig(
            arch="mlp", n_layers=2, d_model=1, d_mlp=200, act_fn="tanh", mlp_init="uniform"
        ),
        optim=OptimConfig(
            lr=1e-4,
            weight_decay=0.0,
            embed_lr=1e-3,
            embed_weight_decay=0.0,
            beta2=0.999,
            warmup_steps=0,
            max_steps=10_000,
        ),
        schedule=ScheduleConfig(
            log_every=10, ckpt_log_until=1000, ckpt_log_count=10, ckpt_every=500
        ),
    ),
}


def get_preset(name: str) -> TrainConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known presets: {sorted(PRESETS)}") from None


NONNEURAL_PRESETS: dict[str, TrainConfig] = {
    "miller_gp": TrainConfig(
        task=TaskConfig(
            name="concealed_parity",
            p=None,
            n_bits=40,
            parity_bits=3,
            n_samples=1100,
            train_fraction=None,
            train_size=1000,
        ),
        model=ModelConfig(arch="gp"),
        optim=OptimConfig(lr=1e-2, weight_decay=0.0, beta2=0.999, warmup_steps=0, max_steps=500),
        schedule=ScheduleConfig(log_every=1, ckpt_log_until=100, ckpt_log_count=8, ckpt_every=100),
    ),
    "miller_linear": TrainConfig(
        task=TaskConfig(
            name="linear_features", p=None, n_samples=100, train_fraction=None, train_size=2
        ),
        model=ModelConfig(arch="linear"),
        optim=OptimConfig(
            lr=1e-3, weight_decay=0.0, warmup_steps=0, max_steps=5000, optimizer="sgd"
        ),
        schedule=ScheduleConfig(
            log_every=5, ckpt_log_until=1000, ckpt_log_count=20, ckpt_every=500
        ),
    ),
}


def get_nonneural_preset(name: str) -> TrainConfig:
    try:
        return NONNEURAL_PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown non-neural preset {name!r}; known: {sorted(NONNEURAL_PRESETS)}"
        ) from None
