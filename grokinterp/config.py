"""Frozen, validated, JSON-round-tripping configuration of a training run.

A run is fully described by a :class:`TrainConfig`: the task (and its split), the
model, the optimizer and the checkpoint schedule. The config is stored as
``config.json`` in every run directory and is everything needed to rebuild the
dataset, the split, the model and the optimizer.

Field names are unique across the four sections, so the command line exposes every
field as a flat flag (``--p 31 --lr 3e-3 --max-steps 5000``); only ``TaskConfig.name``
is spelled ``--task``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from grokinterp._files import MAX_CONFIG_BYTES, read_input
from grokinterp._version import __version__
from grokinterp.errors import ConfigError
from grokinterp.tasks import get_task

Arch = Literal["transformer", "mlp", "gp", "linear", "rfm"]
NONNEURAL_ARCHS = ("gp", "linear", "rfm")
ActFn = Literal["relu", "gelu", "silu", "quadratic", "tanh"]
MLPCombine = Literal["sum", "concat"]
MLPInput = Literal["tokens", "features", "onehot"]
SplitMethod = Literal["seeded", "python_random"]
GrokfastKind = Literal["none", "ema", "ma"]
LossKind = Literal["softmax", "stablemax", "mse", "softmax32", "factual_mse"]
OptimizerKind = Literal["adamw", "adam", "sgd", "muon", "egd"]
LinearInit = Literal["high_complexity", "xavier", "zeros"]
MLPInit = Literal["normal", "uniform", "embed_vocab", "doshi"]
SequenceFormat = Literal["a_b_eq", "a_op_b_eq", "eos_a_op_b_eq", "a_b"]
Normalization = Literal["none", "pre", "post", "grokfast"]
Positional = Literal["learned", "sinusoidal", "none"]
TransformerInit = Literal["normal", "torch_linear", "torch_mha"]


# bounds checked before any work (docs/reliability.md): each keeps a run's bookkeeping (the
# schedule, the per-update loss buffer) within memory and its seeds within torch's range
MAX_STEPS = 10**9  # optim.max_steps
MAX_CKPT_LOG_COUNT = 10_000  # schedule.ckpt_log_count
MAX_EARLY_LOSS_STEPS = 10**7  # schedule.early_loss_steps (80 MB of float64 per run)
MAX_SEED = 2**62  # seed and task.split_seed lie in [0, MAX_SEED)
MAX_JSON_DEPTH = 32  # nesting of a config file or sweep spec


def json_depth(value: Any) -> int:
    """How deeply ``value`` (parsed JSON or YAML) nests lists and mappings (a scalar: 0);
    iterative, so a pathological document cannot exhaust the stack."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict | list | tuple):
            deepest = max(deepest, d + 1)
            if d + 1 > MAX_JSON_DEPTH:
                return d + 1
            todo += [(x, d + 1) for x in (v.values() if isinstance(v, dict) else v)]
    return deepest


def _check(cond: bool, section: str, name: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"config field {section}.{name}: {msg}")


@dataclass(frozen=True)
class TaskConfig:
    """The algorithmic task and its train/test split.

    Args:
        name: a task from the registry (``grokinterp.tasks.TASKS``), e.g. ``add``, ``sub``,
            ``mul``, ``div``, ``x2_y2``, ``x2_xy_y2``, ``x3_xy``, ``random_table``, ``perm``.
        p: modulus of a modular task (any integer >= 2; prime for tasks that need a field,
            such as ``div``). Must be None for the symmetric-group tasks.
        n: degree of the symmetric group S_n for the permutation tasks (2 <= n <= 5). Must be
            None for modular tasks.
        train_fraction: fraction of all pairs used for training, in (0, 1); the training-set
            size is ``int(train_fraction * n_pairs)`` (30% of 113^2 gives the paper's 3830).
            Exactly one of ``train_fraction`` and ``train_size`` is set.
        train_size: exact training-set size D, 1 <= D < n_pairs. Training sets of the same
            ``split_seed`` are nested: the set of size D' < D is a subset of the set of size D.
        split_seed: seed of the permutation of pairs that defines the split.
        split_method: how the permutation is drawn: ``seeded`` (``torch.randperm`` with a
            generator seeded by ``split_seed``) or ``python_random`` (Python's
            ``random.Random(split_seed).shuffle`` of the row-major pair list, which is what the
            progress-measures code does: with seed 0 it reproduces that paper's split).
        random_labels: replace the labels by a seeded permutation of themselves (a
            memorization-only control with the same label marginal).
        label_seed: seed of that permutation, of the table of ``random_table``, and of the
            label corruption (``label_noise``).
        label_noise: the fraction of the TRAINING labels that are corrupted (Doshi et al.
            2024, arXiv 2310.13061): ``int(label_noise * D)`` training examples, a seeded
            choice, each get a wrong label drawn uniformly from the other classes; the test
            labels are untouched. 0 (default): no corruption. In [0, 1); not with
            ``random_labels``. The run directory records the corrupted examples
            (``corrupted_labels.csv``).
        n_bits: length of the bit strings of ``concealed_parity`` (Miller et al. 2024 use 40)
            and ``sparse_parity`` (Barak et al. 2022's n); null for every other task.
        parity_bits: how many of those bits the parity label depends on (theirs: 3; the
            first ones for ``concealed_parity``, a seeded choice for ``sparse_parity``); the
            others conceal them.
        n_samples: number of examples that a task of generated examples (``concealed_parity``,
            ``sparse_parity``, ``linear_features``) draws, train and test together (for
            ``sparse_parity`` distinct strings, at most 2^n_bits); null for the pair tasks.
        data_seed: seed of the generated examples of those tasks (and of ``sparse_parity``'s
            relevant bits).
    """

    name: str = "add"
    p: int | None = 113
    n: int | None = None
    train_fraction: float | None = 0.3
    train_size: int | None = None
    split_seed: int = 0
    split_method: SplitMethod = "seeded"
    random_labels: bool = False
    label_seed: int = 0
    label_noise: float = 0.0
    n_bits: int | None = None
    parity_bits: int | None = None
    n_samples: int | None = None
    data_seed: int = 0

    def __post_init__(self) -> None:
        spec = get_task(self.name)
        _check(
            (self.train_fraction is None) != (self.train_size is None),
            "task",
            "train_fraction",
            "set exactly one of train_fraction and train_size",
        )
        if self.train_fraction is not None:
            _check(
                0.0 < self.train_fraction < 1.0,
                "task",
                "train_fraction",
                f"must be in (0, 1), got {self.train_fraction}",
            )
        _check(
            0.0 <= self.label_noise < 1.0,
            "task",
            "label_noise",
            f"must be in [0, 1) (the fraction of training labels corrupted), got "
            f"{self.label_noise}",
        )
        _check(
            self.label_noise == 0.0 or not self.random_labels,
            "task",
            "label_noise",
            "corrupts true labels; with random_labels there are none: set one of them",
        )
        _check(
            self.label_noise == 0.0 or not spec.is_samples,
            "task",
            "label_noise",
            f"is for the tasks of pairs and features; {self.name!r} generates its examples",
        )
        spec.validate(self)
        if self.train_size is not None:
            n_pairs = spec.n_pairs(self)
            _check(
                1 <= self.train_size < n_pairs,
                "task",
                "train_size",
                f"must be in [1, {n_pairs - 1}] for this task ({n_pairs} pairs), "
                f"got {self.train_size}",
            )


@dataclass(frozen=True)
class ModelConfig:
    """The network.

    Args:
        arch: ``transformer`` (a TransformerLens TransformerBridge, the Nanda et al. model
            by default), ``mlp`` (embeddings of a and b combined, ``n_layers`` hidden layers,
            unembedding; the toy model of Liu et al. 2022 and Gromov 2023), or one of the
            non-neural archs of Miller et al. 2024 (trained by ``grokinterp nonneural`` on
            the tasks of generated examples; the fields of the transformer and the MLP do not
            apply to them): ``gp`` is a variational GP classifier (GPyTorch, the gp extra)
            with a constant mean, a scaled RBF kernel with one length-scale per input
            dimension (ARD), a Bernoulli likelihood, and the training inputs as fixed inducing
            points; ``linear`` is y = w . x without bias, trained on the negative log
            posterior of a Gaussian likelihood and a Gaussian prior (``linear_init``,
            ``noise_var``, ``prior_var``). ``rfm``: a recursive feature machine (Mallinar et
            al. 2025, arXiv 2407.20199) on a pair task: kernel ridge regression on the
            concatenated one-hot vectors of a and b with a Mahalanobis Gaussian kernel, whose
            matrix M is replaced by the average gradient outer product at every step
            (``rfm_bandwidth``, ``rfm_ridge``, ``rfm_agop_power``, ``rfm_centering``;
            :mod:`grokinterp.models.rfm`, trained by ``grokinterp nonneural``).
        n_layers: transformer blocks, or hidden layers of the MLP.
        d_model: residual width of the transformer; embedding width of the MLP.
        n_heads: attention heads per block (transformer only).
        d_head: width of each head (transformer only).
        d_mlp: hidden width of each MLP.
        act_fn: ``relu``, ``gelu``, ``silu``, ``tanh``; the MLP arch also takes ``quadratic``
            (x^2, Gromov). Liu et al. 2022's toy decoder uses ``tanh``.
        init_scale: Omnigrok's alpha: every initial weight is multiplied by it.
        output_scale: Kumar et al. 2024's laziness alpha (arXiv 2310.06110, Sec. 4.1 and
            App. 8.1): the logits are multiplied by it (with ``center_output``, the predictor
            is ``alpha (f(x; theta) - f(x; theta_0))``, their Eq. 7). Large alpha trains
            lazily (near the initial NTK), small alpha richly. Their learning rate is
            ``eta_0 / alpha^2`` (App. 8.1), which ``lr`` must be set to: the option does not
            change it. 1 (default): the logits as they are. Positive and finite.
        center_output: subtract the network's output at the initial weights (the step-0
            checkpoint), so the predictor is 0 at initialization (Chizat et al. 2019; Kumar
            et al.'s Eq. 7); neural archs only. False (default): no centering.
        d_vocab_out: number of output logits; None means the task's number of classes
            (``p`` for modular tasks). Models imported from the progress-measures code have
            ``p + 1`` (their unembedding also scores the ``=`` token).
        mlp_combine: how the MLP arch combines the embeddings of a and b: ``sum`` (added)
            or ``concat`` (concatenated, so that the first layer sees 2 ``d_model`` inputs).
        mlp_input: what the MLP arch reads: ``tokens`` (embeddings of a and b, combined by
            ``mlp_combine``) or ``features`` (the float feature vector of a feature task
            such as ``digits``: the first layer ``blocks.0.mlp.W_in`` is a matrix on the
            features and there is no embedding; ``d_model`` and ``mlp_combine`` are unused).
            Choosing a feature task with ``replace`` (the command line, a sweep) sets it.
            ``onehot`` (pair tasks): the concatenated one-hot vectors of a and b,
            ``h_0 = [onehot(a), onehot(b)]``, so that the first layer ``blocks.0.mlp.W_in`` is
            ``(2 n, d_mlp)`` over the n operand values (the ``=`` token has no row) and there
            is no embedding: Prieto et al. 2025's MLP (their utils.py:L186-187,
            datasets.py:L56-59). ``d_model`` and ``mlp_combine`` are unused.
        mlp_init: the MLP arch's initial weights: ``normal`` (N(0, 1/fan_in), biases 0, the
            embedding N(0, 1/d_model)), ``uniform`` (Liu et al. 2022's toy code: PyTorch's
            default ``nn.Linear``, weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and
            the embedding U(-1/2, 1/2)), or ``embed_vocab`` (as ``normal`` but the embedding
            N(0, 1/n), n the operand values: Minegishi et al. 2024's OnlyMLP,
            gouki510/Grokking-Tickets@bd705c8 model.py:L36-37), or ``doshi`` (every matrix
            N(0, 1 / (4 (2 d_mlp)^(2/3))), biases 0: the ``fcn`` of Doshi et al. 2024,
            d-doshi/Grokking@0b4335f utils/models.py:L39-40); each times ``init_scale``.
        mlp_out_proj: the MLP arch maps its last hidden layer back to ``d_model`` by a
            linear ``blocks.{L-1}.mlp.W_out`` (d_mlp, d_model), no activation (and ``b_out``
            with ``mlp_bias``), before the unembedding ``unembed.W_U`` (d_model,
            d_vocab_out): ``logits = h_L W_out W_U``. With ``mlp_combine="sum"`` and
            ``mlp_bias=False`` this is Minegishi et al. 2024's OnlyMLP (an embedding, a
            projection shared by both tokens and summed, ReLU, a projection back, the
            unembedding; their model.py:L338-385). Token inputs only.
        linear_init: the linear model's initial weights: ``high_complexity`` (Miller et al.'s
            start: 0.0005 on the feature the target needs and 0.9 on every other), ``xavier``
            (Xavier-uniform from ``seed``), or ``zeros``.
        noise_var: the linear model's Gaussian noise variance sigma^2 (theirs: 0.002).
        prior_var: the variance sigma_p^2 of its zero-mean Gaussian prior on each weight
            (theirs: 0.5).
        sequence: how the transformer reads a pair ``[a, b, =]``; the answer is always read
            at the last position: ``a_b_eq`` (Nanda et al.), ``a_op_b_eq`` (Lee et al.'s
            Grokfast, an operator token with its own embedding row), ``eos_a_op_b_eq``
            (Power et al.: end-of-sequence and operator tokens with their own rows), or
            ``a_b`` (Prieto et al.'s transformer: no ``=`` token and no embedding row for it).
        normalization: the transformer's LayerNorm: ``none`` (Nanda et al.), ``pre``
            (x + attn(LN1(x)), x + mlp(LN2(x)), and a final LN), ``post`` (LN1(x + attn(x)),
            LN2(x + mlp(x)), no final LN: Power et al., PyTorch's TransformerEncoderLayer), or
            ``grokfast`` (x = LN1(x) then x + attn(x), x + mlp(LN2(x)), and a final LN: the
            attention's residual adds to the normalized stream, as in Lee et al.'s code).
        positional: the transformer's positions: ``learned`` (``pos_embed.W_pos``),
            ``sinusoidal`` (Power et al.'s fixed table, no parameter), or ``none``.
        attn_bias: the attention has biases ``b_Q``, ``b_K``, ``b_V`` and ``b_O``.
        mlp_bias: the transformer's MLP has biases ``b_in`` and ``b_out``; the MLP arch's
            layers have biases ``b_in`` (False: Prieto et al. 2025's bias-free MLP).
        unembed_bias: the unembedding has a bias ``b_U``.
        causal: the attention is causally masked (False: every position sees every other).
        transformer_init: the transformer's initial weights: ``normal`` (Nanda et al.:
            N(0, 1/d_model), ``W_U`` N(0, 1/d_vocab), biases 0), ``torch_linear`` (PyTorch's
            defaults for Power et al.'s modules: embeddings N(0, 1), every matrix and bias
            U(-1/sqrt(fan_in), 1/sqrt(fan_in)), LayerNorm 1 and 0), or ``torch_mha`` (the
            same but the attention initialized as nn.MultiheadAttention: Xavier-uniform Q, K,
            V, zero attention biases); either times ``init_scale``.
        attention_rate: Zhong et al. 2023's attention rate alpha (arXiv 2306.17844, Sec. 5;
            fjzzq2002/pizza@4c7f2f3 code/train-main.py:L111-114): every attention pattern is
            ``alpha * softmax(scores) + (1 - alpha)``, each position the query may see
            weighted ``1 - alpha`` more. 1 (default) is the standard attention; 0 their
            constant attention (Model A), where the head sums the values of the positions
            it sees, weight 1 each. In [0, 1].
        dropout: the transformer's dropout probability in training, at the four sites of
            PyTorch's ``nn.TransformerEncoderLayer`` (the attention pattern, the attention's
            and the MLP's outputs before their residual adds, the MLP's hidden activations;
            :mod:`grokinterp.models.dropout`); 0 (default): none. Prieto et al. 2025's
            transformer trains with 0.1. The logged metrics and every analysis use the
            network without it (PyTorch's ``eval()`` mode). The single-run loop trains it
            (the local sweep backend); the ensemble refuses it. In [0, 1).
        rfm_bandwidth: the RFM's Gaussian kernel bandwidth L in
            exp(-(x - z)^T M (x - z) / (2 L^2)) (Mallinar et al.'s default 2.5).
        rfm_ridge: the RFM's ridge added to the kernel matrix before the solve (theirs: 0,
            the interpolating solution).
        rfm_agop_power: the power s of the AGOP that becomes the next M (theirs: 1/2, the
            matrix square root).
        rfm_centering: the RFM subtracts the mean Jacobian over the training inputs before
            the outer product (theirs: True).
    """

    arch: Arch = "transformer"
    n_layers: int = 1
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    act_fn: ActFn = "relu"
    init_scale: float = 1.0
    output_scale: float = 1.0
    center_output: bool = False
    d_vocab_out: int | None = None
    mlp_combine: MLPCombine = "sum"
    mlp_input: MLPInput = "tokens"
    mlp_init: MLPInit = "normal"
    mlp_out_proj: bool = False
    linear_init: LinearInit = "high_complexity"
    noise_var: float = 0.002
    prior_var: float = 0.5
    sequence: SequenceFormat = "a_b_eq"
    normalization: Normalization = "none"
    positional: Positional = "learned"
    attn_bias: bool = False
    mlp_bias: bool = True
    unembed_bias: bool = False
    causal: bool = True
    transformer_init: TransformerInit = "normal"
    attention_rate: float = 1.0
    dropout: float = 0.0
    rfm_bandwidth: float = 2.5
    rfm_ridge: float = 0.0
    rfm_agop_power: float = 0.5
    rfm_centering: bool = True

    def __post_init__(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "d_head", "d_mlp"):
            v = getattr(self, name)
            _check(v >= 1, "model", name, f"must be a positive integer, got {v}")
        _check(
            self.init_scale > 0 and math.isfinite(self.init_scale),
            "model",
            "init_scale",
            f"must be positive and finite, got {self.init_scale}",
        )
        _check(
            self.output_scale > 0 and math.isfinite(self.output_scale),
            "model",
            "output_scale",
            f"must be positive and finite (Kumar et al.'s alpha), got {self.output_scale}",
        )
        _check(
            self.arch not in NONNEURAL_ARCHS or (self.output_scale == 1 and not self.center_output),
            "model",
            "output_scale",
            f"output_scale and center_output are for the neural archs, not {self.arch}",
        )
        if self.arch == "transformer":
            _check(
                self.act_fn not in ("quadratic", "tanh"),
                "model",
                "act_fn",
                f"{self.act_fn} is only available for arch=mlp",
            )
        _check(
            self.arch == "mlp" or self.mlp_init == "normal",
            "model",
            "mlp_init",
            f"{self.mlp_init} is only available for arch=mlp, not {self.arch}",
        )
        _check(
            not self.mlp_out_proj or (self.arch == "mlp" and self.mlp_input == "tokens"),
            "model",
            "mlp_out_proj",
            f"is only available for arch=mlp on token inputs, not arch={self.arch} with "
            f"mlp_input={self.mlp_input}",
        )
        _check(
            0.0 <= self.attention_rate <= 1.0,
            "model",
            "attention_rate",
            f"must be in [0, 1] (1: standard attention, 0: constant), got {self.attention_rate}",
        )
        _check(
            0.0 <= self.dropout < 1.0,
            "model",
            "dropout",
            f"must be in [0, 1) (0: none; Prieto et al.'s transformer: 0.1), got {self.dropout}",
        )
        _check(
            self.dropout == 0.0 or not self.center_output,
            "model",
            "dropout",
            "is not defined for the centered predictor (center_output); leave it at 0",
        )
        if self.d_vocab_out is not None:
            _check(self.d_vocab_out >= 2, "model", "d_vocab_out", "must be >= 2 or null")
        for name in ("noise_var", "prior_var", "rfm_bandwidth", "rfm_agop_power"):
            v = getattr(self, name)
            _check(
                v > 0 and math.isfinite(v), "model", name, f"must be positive and finite, got {v}"
            )
        _check(
            self.rfm_ridge >= 0 and math.isfinite(self.rfm_ridge),
            "model",
            "rfm_ridge",
            f"must be >= 0 and finite, got {self.rfm_ridge}",
        )
        if self.arch != "transformer":
            for f in fields(self):
                if f.name in TRANSFORMER_FIELDS:
                    _check(
                        getattr(self, f.name) == f.default,
                        "model",
                        f.name,
                        f"is only available for arch=transformer, not {self.arch}; leave it "
                        f"at {f.default!r}",
                    )


# the ModelConfig fields that only the transformer reads (the papers' variants, issue 26)
TRANSFORMER_FIELDS = (
    "sequence",
    "normalization",
    "positional",
    "attn_bias",
    "unembed_bias",
    "causal",
    "transformer_init",
    "attention_rate",
    "dropout",
)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW, the training interventions, and the stopping rule.

    Args:
        lr: peak learning rate.
        weight_decay: AdamW's decoupled weight decay (applied to every parameter, but see
            ``embed_weight_decay``).
        embed_lr: a learning rate of its own for the embedding ``embed.W_E`` (its warm-up
            follows ``lr``'s); None: ``lr``. Liu et al. 2022 (arXiv 2205.10343) train their
            toy model's representation and decoder with separate AdamW optimizers: embedding
            lr 1e-3 and weight decay 0, decoder lr and weight decay swept (their phase
            diagrams).
        embed_weight_decay: the embedding's weight decay; None: ``weight_decay``.
        beta1: AdamW's first-moment decay, beta1 (Nanda et al. use 0.9).
        beta2: AdamW's second-moment decay, beta2 (Nanda et al. use 0.98; PyTorch's default
            is 0.999).
        eps: AdamW's epsilon.
        warmup_steps: linear warm-up: update t (0-based) uses ``lr * min(1, (t + 1) / warmup)``.
        warmup_from_zero: start the warm-up at lr 0: update t uses ``lr * min(1, t / warmup)``,
            as the progress-measures code (Nanda et al. 2023), openai/grok (Power et al. 2022)
            and Grokfast's main.py (Lee et al. 2024) do; their first update moves only the
            Adam moments.
        batch_size: None for full-batch training; otherwise minibatches drawn by a seeded
            shuffle of the training set each epoch.
        drop_last: with minibatches, drop the rows left at the end of an epoch when fewer
            than ``batch_size`` remain (the default); false trains on them as a shorter last
            batch, as ``torch.split`` and a DataLoader without ``drop_last`` do (the
            released code of Power et al. 2022 and of Grokfast).
        max_steps: number of optimizer updates (at most ``MAX_STEPS``, 10^9).
        stop_acc: if set, stop ``stop_patience`` steps after test accuracy first reaches it.
        stop_loss: if set, stop ``stop_patience`` steps after the training loss first falls
            to it (training to a loss target, as in the circuit-efficiency experiments of
            Varma et al. 2023). With both set, the first rule met ends the run.
        stop_patience: see ``stop_acc`` and ``stop_loss``.
        grokfast: Grokfast's gradient filter (Lee et al. 2024, arXiv 2405.20233): ``ema``
            adds ``grokfast_lamb`` times an exponential moving average of the gradients,
            ``ma`` the mean of the last ``grokfast_window`` gradients, to each gradient
            before the optimizer step; ``none`` (default) trains without it.
        grokfast_alpha: the EMA's decay (their recipe: 0.98).
        grokfast_lamb: the amplification lambda (their EMA recipe: 2.0; their MA recipe: 5.0).
        grokfast_window: the MA's window (their recipe: 100).
        grokfast_warmup: the MA leaves gradients unchanged until its window is full.
        loss: ``softmax`` (cross-entropy) or ``stablemax`` (Prieto et al. 2025, arXiv
            2501.04697: the softmax with exp replaced by s(x) = x + 1 for x >= 0 and
            1 / (1 - x) below), or ``mse`` (the mean squared error of the logits against
            the one-hot label, as Omnigrok trains its MNIST MLP); all computed in float64;
            ``softmax32`` is the cross-entropy computed in float32, whose softmax collapses
            (Prieto et al.'s default ``--softmax_precision 32``, their utils.py:L52-67, L269).
            ``factual_mse`` is the ``counterfactual`` task's (and only its) loss: the squared
            error of the output of each unit's assigned arm against its factual outcome
            (two heads, mu0 and mu1; :func:`grokinterp.models.factual_mse64`).
        orthogonal_grad: ⊥Grad (Prieto et al. 2025): remove from each parameter's gradient
            its component along the parameter, rescaled back to the gradient's norm, before
            the optimizer step.
        optimizer: ``adamw`` (every arch: decoupled weight decay), ``adam`` (the neural
            archs: Adam with the weight decay added to the gradient as an L2 term,
            ``torch.optim.Adam(weight_decay=...)``, as Grokfast's released recipes train; the
            same update as ``adamw`` when weight_decay is 0) or ``sgd`` (plain gradient
            descent, ``p <- p (1 - lr wd) - lr g``, no momentum: Miller et al. train their linear
            model with it, Kumar et al. 2024 and Gromov 2023 their MLPs); ``muon`` or
            ``egd`` (the neural archs: the hidden weight matrices, every ``blocks.*``
            parameter of two or more axes, take Muon's step (Jordan et al. 2024,
            ``torch.optim.Muon``: Nesterov momentum, then Newton-Schulz orthogonalization;
            Tveit et al. 2025, arXiv 2504.16041) or egalitarian gradient descent's step
            (Pasand & Dohmatob, ICLR 2026: the gradient with its singular values set to 1,
            (G G^T)^(-1/2) G); the embeddings, unembedding and biases take AdamW's step with
            ``lr``: :mod:`grokinterp.training.spectral`).
        spectral_lr: the hidden matrices' learning rate under ``muon`` / ``egd`` (its warm-up
            follows ``lr``'s); None: ``lr``.
        spectral_momentum: Muon's momentum (torch.optim.Muon's default 0.95); unused by
            ``egd``, which has none.
        spectral_weight_decay: the hidden matrices' decoupled weight decay under ``muon`` /
            ``egd`` (p <- p (1 - spectral_lr wd)); None: ``weight_decay``.
        fixed_norm: Omnigrok's constrained-norm training (Liu, Michaud & Tegmark 2023,
            arXiv 2210.01117): after every optimizer step (and once at step 0), all the
            parameters (every matrix and bias, embeddings included) are rescaled together
            so that their total L2 norm is this value
            (:mod:`grokinterp.training.constraints`). None (default): unconstrained.
    """

    lr: float = 1e-3
    weight_decay: float = 1.0
    embed_lr: float | None = None
    embed_weight_decay: float | None = None
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-8
    warmup_steps: int = 10
    warmup_from_zero: bool = False
    batch_size: int | None = None
    drop_last: bool = True
    max_steps: int = 40_000
    stop_acc: float | None = None
    stop_loss: float | None = None
    stop_patience: int = 0
    grokfast: GrokfastKind = "none"
    grokfast_alpha: float = 0.98
    grokfast_lamb: float = 2.0
    grokfast_window: int = 100
    grokfast_warmup: bool = True
    loss: LossKind = "softmax"
    orthogonal_grad: bool = False
    optimizer: OptimizerKind = "adamw"
    spectral_lr: float | None = None
    spectral_momentum: float = 0.95
    spectral_weight_decay: float | None = None
    fixed_norm: float | None = None

    def __post_init__(self) -> None:
        for name in ("lr", "weight_decay", "eps", "grokfast_alpha", "grokfast_lamb"):
            v = getattr(self, name)
            _check(math.isfinite(v), "optim", name, f"must be a finite number, got {v}")
        for name in ("embed_lr", "embed_weight_decay", "spectral_lr", "spectral_weight_decay"):
            v = getattr(self, name)
            if v is not None:
                _check(
                    math.isfinite(v) and v >= 0 and (v > 0 or not name.endswith("_lr")),
                    "optim",
                    name,
                    f"must be {'positive' if name.endswith('_lr') else '>= 0'} and finite or "
                    f"null, got {v}",
                )
        _check(self.lr > 0, "optim", "lr", f"must be positive, got {self.lr}")
        _check(self.weight_decay >= 0, "optim", "weight_decay", "must be >= 0")
        _check(
            0.0 <= self.grokfast_alpha < 1.0,
            "optim",
            "grokfast_alpha",
            f"must be in [0, 1), got {self.grokfast_alpha}",
        )
        _check(self.grokfast_lamb >= 0, "optim", "grokfast_lamb", "must be >= 0")
        _check(self.grokfast_window >= 1, "optim", "grokfast_window", "must be >= 1")
        for name in ("beta1", "beta2", "spectral_momentum"):
            v = getattr(self, name)
            _check(0.0 <= v < 1.0, "optim", name, f"must be in [0, 1), got {v}")
        _check(self.eps > 0, "optim", "eps", "must be positive")
        _check(self.warmup_steps >= 0, "optim", "warmup_steps", "must be >= 0")
        if self.batch_size is not None:
            _check(self.batch_size >= 1, "optim", "batch_size", "must be >= 1 or null")
        _check(self.max_steps >= 1, "optim", "max_steps", f"must be >= 1, got {self.max_steps}")
        _check(
            self.max_steps <= MAX_STEPS,
            "optim",
            "max_steps",
            f"at most {MAX_STEPS:.0e} updates, got {self.max_steps}",
        )
        if self.stop_acc is not None:
            _check(0.0 < self.stop_acc <= 1.0, "optim", "stop_acc", "must be in (0, 1]")
        if self.stop_loss is not None:
            _check(self.stop_loss > 0, "optim", "stop_loss", "must be positive")
        _check(self.stop_patience >= 0, "optim", "stop_patience", "must be >= 0")
        if self.fixed_norm is not None:
            _check(
                self.fixed_norm > 0 and math.isfinite(self.fixed_norm),
                "optim",
                "fixed_norm",
                f"must be positive and finite or null, got {self.fixed_norm}",
            )


@dataclass(frozen=True)
class ScheduleConfig:
    """When metrics are logged and checkpoints written.

    Checkpoints are dense where grokking happens: ``ckpt_log_count`` log-spaced steps
    in [1, ``ckpt_log_until``], then every ``ckpt_every`` steps, plus step 0 and the
    final step (see :func:`grokinterp.training.schedule.checkpoint_steps`).

    Args:
        log_every: a line of ``metrics.jsonl`` every this many steps (and at step 0, at
            every checkpoint and at the final step).
        ckpt_log_until: end of the log-spaced part of the checkpoint schedule.
        ckpt_log_count: number of log-spaced checkpoint steps in [1, ckpt_log_until] (at most
            ``MAX_CKPT_LOG_COUNT``, 10,000).
        ckpt_every: spacing of the uniform part of the schedule.
        early_loss_steps: keep the training loss of every one of the first this many
            updates (the loss each update descends, float64) in ``early_loss.safetensors``,
            written at that step and at the checkpoints before it: the curve whose spectrum
            predicts grokking (Notsawo et al. 2023; ``grokinterp predict``). 0 keeps none;
            at most ``MAX_EARLY_LOSS_STEPS`` (10^7: 80 MB a run).
    """

    log_every: int = 10
    ckpt_log_until: int = 1000
    ckpt_log_count: int = 30
    ckpt_every: int = 200
    early_loss_steps: int = 500

    def __post_init__(self) -> None:
        for name in ("log_every", "ckpt_log_until", "ckpt_every"):
            v = getattr(self, name)
            _check(v >= 1, "schedule", name, f"must be >= 1, got {v}")
        _check(
            0 <= self.ckpt_log_count <= MAX_CKPT_LOG_COUNT,
            "schedule",
            "ckpt_log_count",
            f"must be in [0, {MAX_CKPT_LOG_COUNT}], got {self.ckpt_log_count}",
        )
        _check(
            0 <= self.early_loss_steps <= MAX_EARLY_LOSS_STEPS,
            "schedule",
            "early_loss_steps",
            f"must be in [0, {MAX_EARLY_LOSS_STEPS:.0e}], got {self.early_loss_steps}",
        )


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run.

    Args:
        task: see :class:`TaskConfig`.
        model: see :class:`ModelConfig`.
        optim: see :class:`OptimConfig`.
        schedule: see :class:`ScheduleConfig`.
        seed: seed of the initialization and of the minibatch order, in [0, 2^62) (as
            ``task.split_seed``).
        init_from: start from these weights instead of a random initialization: a
            checkpoint file (``.../checkpoints/step_<N>.safetensors``) of a run with the same
            model shape; the optimizer starts fresh. Used to continue a grokked network on a
            smaller training set (ungrokking, Varma et al. 2023).
        mask_from: train with a fixed pruning mask: a mask file
            (:func:`grokinterp.training.masks.save_mask`; parameter name -> bool, True =
            kept) whose pruned weights are held at exactly 0, on the initial weights and
            after every update; with ``init_from`` a run's ``step_0`` checkpoint, a grokking
            ticket (Minegishi et al. 2024, arXiv 2310.19470). The mask is copied into the
            run directory (``mask.safetensors``), which a resumed run reads.
    """

    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    seed: int = 0
    init_from: str | None = None
    mask_from: str | None = None

    def __post_init__(self) -> None:
        for name, v in (("seed", self.seed), ("task.split_seed", self.task.split_seed)):
            if not 0 <= v < MAX_SEED:  # torch seeds at most 2^64 - 1, after offsets
                raise ConfigError(f"config field {name}: must be in [0, 2^62), got {v}")
        _check_pairing(self)

    # ------------------------------------------------------------------ dict / JSON
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from a dict; unknown keys and wrongly typed values raise ConfigError."""
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        d = {k: v for k, v in d.items() if k != "grokinterp_version"}
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in d:
                continue
            sub_cls = SECTIONS.get(f.name)
            if sub_cls is not None:
                kwargs[f.name] = _section_from_dict(sub_cls, d[f.name], f"{source}: {f.name}")
            else:
                kwargs[f.name] = _coerce(
                    d[f.name], get_type_hints(cls)[f.name], f"{source}: {f.name}"
                )
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(
                f"{source}: unknown config key(s) {sorted(unknown)}; "
                f"valid top-level keys are {[f.name for f in fields(cls)]}"
            )
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps({**self.to_dict(), "grokinterp_version": __version__}, indent=2)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a config.json: a regular file of at most 1 MiB (``_files.MAX_CONFIG_BYTES``),
        UTF-8 JSON nested at most ``MAX_JSON_DEPTH`` deep; anything else is a ConfigError."""
        path = Path(path)
        try:
            data = read_input(path, MAX_CONFIG_BYTES, "a config.json file", ConfigError)
            d = json.loads(data.decode())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a directory; give a config.json file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a text file; give a config.json file") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
        except RecursionError:
            raise ConfigError(f"{path}: JSON nested too deeply; give a config.json file") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot read it ({e.strerror or e})") from None
        if json_depth(d) > MAX_JSON_DEPTH:
            raise ConfigError(f"{path}: JSON nested too deeply; give a config.json file")
        return cls.from_dict(d, source=str(path))

    def identity(self) -> dict[str, Any]:
        """The fields that define the trajectory; a resumed run must match them.

        The stopping rule (max_steps, stop_acc, stop_loss, stop_patience) may change on
        resume: a run
        can be extended. Everything else (task, split, model, optimizer, schedule, seed) may
        not.
        """
        d = self.to_dict()
        for k in ("max_steps", "stop_acc", "stop_loss", "stop_patience"):
            d["optim"].pop(k)
        return d


def _check_pairing(cfg: TrainConfig) -> None:
    """The checks that span sections: the tasks of generated examples go with the
    non-neural archs, and those archs with the options their trainer has."""
    spec = get_task(cfg.task.name)
    arch = cfg.model.arch
    features = spec.is_vectors  # the MLP reads float feature vectors
    if arch == "rfm":
        _check(
            not spec.is_samples and not features and cfg.model.d_vocab_out is None,
            "model",
            "arch",
            f"arch 'rfm' reads the one-hot vectors of a pair task's operands (add, sub, ...) and "
            f"scores its classes (d_vocab_out null), not task {spec.name!r}",
        )
        if cfg.init_from is not None or cfg.mask_from is not None:
            raise ConfigError(
                "config field init_from: arch 'rfm' starts from M = I: leave init_from and "
                "mask_from unset"
            )
        return
    _check(
        cfg.model.mlp_input in (("features",) if features else ("tokens", "onehot"))
        or arch != "mlp",
        "model",
        "mlp_input",
        f"task {spec.name!r} gives the MLP "
        f"{'feature vectors' if features else 'tokens'}: set mlp_input to "
        f"{'features' if features else 'tokens'}",
    )
    effects = spec.neural and spec.target == "real"  # counterfactual: outcomes, two heads
    _check(
        effects == (cfg.optim.loss == "factual_mse"),
        "optim",
        "loss",
        f"task {spec.name!r} trains on factual outcomes: set loss to factual_mse"
        if effects
        else f"factual_mse is the counterfactual task's loss, not task {spec.name!r}'s",
    )
    _check(
        not effects or arch == "mlp",
        "model",
        "arch",
        f"task {spec.name!r} is trained by the MLP with two heads (arch mlp), not {arch!r}",
    )
    _check(
        not features or arch == "mlp" or (spec.is_samples and arch in NONNEURAL_ARCHS),
        "model",
        "arch",
        f"task {spec.name!r} is a data set of feature vectors: use arch mlp (with mlp_input "
        f"features), not {arch!r}",
    )
    if arch not in NONNEURAL_ARCHS:
        _check(
            not spec.is_samples or spec.neural,
            "model",
            "arch",
            f"task {spec.name!r} is a task of generated examples: use arch gp or linear "
            f"(`grokinterp nonneural`), not {arch!r}",
        )
        return
    _check(
        spec.is_samples,
        "task",
        "name",
        f"arch {arch!r} trains on a task of generated examples (concealed_parity, "
        f"linear_features), not on the pair task {spec.name!r}",
    )
    want = "class" if arch == "gp" else "real"
    _check(
        spec.target == want,
        "model",
        "arch",
        f"arch {arch!r} needs a {'classification' if want == 'class' else 'regression'} task; "
        f"{spec.name!r} is a {'classification' if spec.target == 'class' else 'regression'} "
        f"task (gp: concealed_parity; linear: linear_features)",
    )
    o = cfg.optim
    _check(
        o.optimizer not in ("muon", "egd"),
        "optim",
        "optimizer",
        f"{o.optimizer} updates hidden weight matrices; arch {arch!r} has none: use sgd or adamw",
    )
    _check(
        o.weight_decay == 0,
        "optim",
        "weight_decay",
        f"must be 0 for arch {arch!r}: its complexity term (the GP's KL divergence, the "
        f"linear model's prior) is its regularizer; got {o.weight_decay}",
    )
    unsupported = {
        ("optim", "batch_size"): o.batch_size is not None,
        ("optim", "stop_acc"): o.stop_acc is not None,
        ("optim", "stop_loss"): o.stop_loss is not None,
        ("optim", "grokfast"): o.grokfast != "none",
        ("optim", "loss"): o.loss != "softmax",
        ("optim", "orthogonal_grad"): o.orthogonal_grad,
        ("optim", "embed_lr"): o.embed_lr is not None,
        ("optim", "embed_weight_decay"): o.embed_weight_decay is not None,
        ("optim", "fixed_norm"): o.fixed_norm is not None,
        ("model", "d_vocab_out"): cfg.model.d_vocab_out is not None,
        ("", "init_from"): cfg.init_from is not None,
        ("", "mask_from"): cfg.mask_from is not None,
    }
    for (section, name), given in unsupported.items():
        if given:
            where = f"{section}.{name}" if section else name
            raise ConfigError(
                f"config field {where}: the non-neural trainer (arch {arch!r}) trains full-batch "
                f"for max_steps with neither stopping rule, intervention nor init_from; "
                f"leave it at its default"
            )


SECTIONS: dict[str, type] = {
    "task": TaskConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
}


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check a JSON value against a field's type annotation (ints are accepted as floats)."""
    if typ is Any:
        return value  # not a field: dataclasses.replace names it
    origin = get_origin(typ)
    if origin is Literal:
        if value in get_args(typ) and isinstance(value, str):
            return value
        raise ConfigError(f"{where}: bad value {value!r}; expected one of {list(get_args(typ))}")
    options = get_args(typ) if origin in (Union, UnionType) else (typ,)
    for o in options:
        if o is type(None) and value is None:
            return None
        if o is bool and isinstance(value, bool):
            return value
        if o is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if o is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if o is str and isinstance(value, str):
            return value
    names = [getattr(o, "__name__", str(o)) for o in options]
    raise ConfigError(f"{where}: bad value {value!r}; expected {' or '.join(names)}")


def _section_from_dict(cls: type, d: Any, where: str) -> Any:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(d).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ConfigError(
            f"{where}: unknown config key(s) {sorted(unknown)}; valid keys are {sorted(names)}"
        )
    return cls(**{k: _coerce(v, hints[k], f"{where}.{k}") for k, v in d.items()})


# flag name of a config field; fields are unique across sections (tests check this)
_FLAG_ALIASES = {("task", "name"): "task"}


def config_flags() -> dict[str, tuple[str, str, Any]]:
    """``{flag: (section, field, type)}`` for every config field ("" = top level)."""
    out: dict[str, tuple[str, str, Any]] = {}
    for section in SECTIONS:
        for name, typ in field_types(section).items():
            flag = _FLAG_ALIASES.get((section, name), name).replace("_", "-")
            out[flag] = (section, name, typ)
    hints = get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        if f.name not in SECTIONS:
            out[f.name.replace("_", "-")] = ("", f.name, hints[f.name])
    return out


def field_types(section: str) -> dict[str, Any]:
    """Type annotations of a section's fields (used to build command-line flags)."""
    return get_type_hints(SECTIONS[section])


def _flat_overrides(fields_: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: value}`` keyword overrides as ``{section: {field: value}}``: a field name
    finds the one section that has it ("" = the top level); a section name takes a dict of
    its fields or a section object (``task`` also takes a task name)."""
    top = {f.name for f in fields(TrainConfig) if f.name not in SECTIONS}
    out: dict[str, dict[str, Any]] = {}
    for name, value in fields_.items():
        if name in SECTIONS:
            if isinstance(value, SECTIONS[name]):
                value = {f.name: getattr(value, f.name) for f in fields(SECTIONS[name])}
            elif name == "task" and isinstance(value, str):
                value = {"name": value}
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{name}=: expected {SECTIONS[name].__name__} or a dict of its fields, "
                    f"got {type(value).__name__}"
                )
            out.setdefault(name, {}).update(value)
            continue
        owners = [s for s in SECTIONS if name in field_types(s)] + (["(top level)"] * (name in top))
        if not owners:
            known = sorted(top | {n for s in SECTIONS for n in field_types(s)})
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{name}=: no config field of that name{hint}")
        if len(owners) > 1:
            raise ConfigError(
                f"{name}=: ambiguous, a field of both {owners[0]} and {owners[1]}; pass "
                f"{{{owners[0]!r}: {{{name!r}: ...}}}} instead"
            )
        section = "" if owners[0] == "(top level)" else owners[0]
        out.setdefault(section, {})[name] = value
    return out


def replace(
    cfg: TrainConfig, overrides: dict[str, dict[str, Any]] | None = None, /, **fields_: Any
) -> TrainConfig:
    """Return ``cfg`` with overrides applied and validated.

    Overrides are keywords, like :func:`dataclasses.replace` but flat: a field name finds
    its section (``replace(cfg, max_steps=60, p=97, seed=1)``), a name that two sections
    share is an error naming both, and a section name takes a dict of its fields or a
    section object (``replace(cfg, optim={"lr": 1e-3})``; ``task="sub"`` names the task).
    They may also come as one ``{section: {field: value}}`` dict (``""`` = the top level:
    ``seed``, ``init_from``, ``mask_from``), which the keywords then update.

    Fields that exclude each other follow the override: setting ``train_size`` alone clears
    ``train_fraction`` (and the reverse), and setting ``n`` alone clears ``p``; choosing a
    task clears the size fields it does not use (a task of generated examples: ``p`` and
    ``n``; a pair task: ``n_bits``, ``parity_bits``, ``n_samples``) unless they are given.
    Values are
    checked against the fields' types (a sweep spec's ``weight_decay: [abc]`` is refused).
    """
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (overrides or {}).items()}
    for section, values in _flat_overrides(fields_).items():
        merged.setdefault(section, {}).update(values)
    unknown = set(merged) - {"", *SECTIONS}
    if unknown:
        raise ConfigError(f"overrides: unknown section(s) {sorted(unknown)}; use {['', *SECTIONS]}")
    top_hints = get_type_hints(TrainConfig)
    overrides = {
        s: {
            k: _coerce(
                v,
                (field_types(s) if s else top_hints).get(k, Any),
                f"config field {s + '.' if s else ''}{k}",
            )
            for k, v in values.items()
        }
        for s, values in merged.items()
    }
    top = {k: v for k, v in overrides.get("", {}).items()}
    task = overrides.get("task")
    if task:
        task = dict(task)
        for given, cleared in (
            ("train_size", "train_fraction"),
            ("train_fraction", "train_size"),
            ("n", "p"),
        ):
            if given in task and cleared not in task:
                task[cleared] = None
        if "name" in task:
            spec = get_task(str(task["name"]))
            unused = ["p", "n"] if spec.is_samples else ["n_bits", "parity_bits", "n_samples"]
            if spec.is_samples and not spec.uses_bits:
                unused += ["n_bits", "parity_bits"]
            if spec.is_features:
                unused += ["p", "n"]
            for name in unused:
                task.setdefault(name, None)
            if not spec.is_samples or spec.neural:  # what the MLP reads follows the task
                model = dict(overrides.get("model", {}))
                model.setdefault("mlp_input", "features" if spec.is_vectors else "tokens")
                overrides = {**overrides, "model": model}
        overrides = {**overrides, "task": task}
    sections = {
        s: dataclasses.replace(getattr(cfg, s), **overrides[s])
        for s in SECTIONS
        if overrides.get(s)
    }
    return dataclasses.replace(cfg, **sections, **top)
