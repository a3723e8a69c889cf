"""Complexity measures maintained by neighbouring fields, per checkpoint: the local learning
coefficient (singular learning theory, through ``devinterp``) and the power-law exponents
of the weight matrices' spectra (heavy-tailed self-regularization, through
``weightwatcher``). Both libraries are the optional ``complexity`` extra
(``pip install "grokinterp[complexity]"``); :func:`require` names it in one line where it
is missing.

**Local learning coefficient** (LLC; Lau, Furman, Wang, Murfet & Wei 2023, arXiv
2308.12108). For a loss ``L_n`` (the mean per-example negative log-likelihood over the n
training examples) and a local minimum ``w*``, the estimator is

    lambda_hat(w*) = n beta (E_w[L_n(w)] - L_n(w*)),

the expectation over the localized tempered posterior
``p(w) ∝ exp(-n beta L_n(w) - (gamma / 2) |w - w*|^2)``, sampled by SGLD (Welling & Teh
2011):

    w <- w - (eps / 2) (n beta grad L_m(w) + gamma (w - w*)) + N(0, eps)

with ``L_m`` the loss of a minibatch of m examples. devinterp 2.0 implements both
(``devinterp.slt.llc.llc``; ``devinterp.optim.SGMCMC.sgld``); its LLC averages the sampled
minibatch losses over every SGLD step of each chain and subtracts the mean initial loss.
For a regular model (an identifiable one with a non-degenerate Fisher information, such
as a full-rank linear regression) the learning coefficient is d/2, d the number of
parameters (Watanabe 2009); a singular model has a smaller one, and a lower LLC is a
simpler (more degenerate) solution. The loss is the run's training loss (``optim.loss``)
without its weight decay, on the run's training set.

The sampler's defaults (:class:`LLCSettings`) are devinterp's documented recipe: eps = 4e-4,
gamma = 100, n beta = devinterp's ``default_nbeta`` (m / log m for minibatches of m; the
README's minimal example and examples/introduction.ipynb cell 6 of timaeus-research/devinterp
at commit a646b9dc8110d2b51da0e9babf0b99996c6626f4), with 500 draws, 2 chains and minibatches
of 128 from its grokking example on modular addition (examples/grokking.ipynb, cells 17 and
21), where the LLC rises while the network memorizes and falls when it generalizes. That
example's own eps = 3e-3, n beta = 2, gamma = 5 (:meth:`LLCSettings.grokking_example`) were
calibrated for a small MLP (embedding 12, hidden 48, p = 53); on our 1-layer transformer at
p = 23 its chains leave the basin (gamma = 5 lets each weight wander by about 1/sqrt(5)) and
the estimate stays near 300 at every checkpoint, while the recipe's falls from 64 at the end
of memorization to 13 at the end of cleanup (docs/how-to/complexity.md).

**Heavy-tailed self-regularization** (HTSR; Martin & Mahoney 2021, JMLR 22(165), arXiv
1810.01075). The empirical spectral density of ``X = W^T W / N`` of a trained N x M weight
matrix W has a power-law tail ``rho(lambda) ~ lambda^-alpha``, fitted above ``lambda_min``
by maximum likelihood (Clauset, Shalizi & Newman 2009), the KS distance choosing
``lambda_min``. A matrix with i.i.d. Pareto entries of tail index mu < 2 has
alpha = 1 + mu/2 (Martin & Mahoney's Table 1, after Bouchaud & Potters); weightwatcher finds
it within 0.15 on 1000 x 500 matrices for mu <= 1.2 (finite-size effects grow as mu nears
2). A random Gaussian matrix has a Marchenko-Pastur spectrum with no power-law tail: the
fit there is not a tail exponent and scatters widely (from about 3.5 to above 20 over seeds
at 400 x 200), never in the heavy-tailed range. HTSR reads 2 <= alpha <= 6 as well trained
and alpha < 2 as very heavy-tailed (over-fitted: the "anti-grokking" warning of Prakash &
Martin 2025, arXiv 2506.04434). weightwatcher 0.7 fits each matrix with its default
settings (``WeightWatcher.analyze()``: the power-law fit, at least 8 eigenvalues); a
matrix too small for the fit has no alpha (NaN).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import io
import logging
import math
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from grokinterp.config import ModelConfig
from grokinterp.errors import ConfigError
from grokinterp.models import Params, answer_logits, loss_function

EXTRA = "complexity"
INSTALL = f'pip install "grokinterp[{EXTRA}]"'

#: the minibatch of devinterp's grokking example (LLCSettings.batch_size)
DEFAULT_BATCH = 128

#: (model, rows) -> the per-example losses of those training examples, shape (rows,)
RowLoss = Callable[[nn.Module, Tensor], Tensor]


def has(module: str) -> bool:
    """Whether ``module`` (``devinterp`` or ``weightwatcher``) is installed."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
        return False


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` (``devinterp`` or ``weightwatcher``, the ``complexity`` extra), or
    raise a ConfigError naming ``what`` needs it and how to install it. Both libraries print
    banners and log warnings on import and while fitting; they are silenced here (the
    results are returned, not printed)."""
    try:
        with _quiet():
            return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{what} needs {module}, the {EXTRA} extra: {INSTALL}") from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the libraries' prints and warnings (weightwatcher prints its SVD backend at
    import and warns about every fit; devinterp draws a progress bar per chain)."""
    sink = io.StringIO()
    logger = logging.getLogger("weightwatcher")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
    finally:
        logger.setLevel(level)


# ------------------------------------------------------------------ local learning coefficient
@dataclass(frozen=True)
class LLCSettings:
    """The SGLD sampler of the LLC estimate (the names are devinterp's). The defaults are
    devinterp's documented recipe (module docstring): ``lr`` (eps) 4e-4, ``localization``
    (gamma) 100 and ``n_beta`` None, devinterp's ``default_nbeta``: m / log m for minibatches
    of m examples (:meth:`nbeta`); ``num_draws`` 500, ``num_chains`` 2 and minibatches of 128
    from its grokking example (:meth:`grokking_example` has that example's eps, n beta and
    gamma too). ``batch_size`` None is 128, or the whole training set where it has fewer
    examples (:meth:`batch`). ``seed`` is devinterp's default ``init_seed`` (chain c uses
    seed + c)."""

    lr: float = 4e-4
    n_beta: float | None = None
    localization: float = 100.0
    num_draws: int = 500
    num_chains: int = 2
    batch_size: int | None = None
    seed: int = 100

    def __post_init__(self) -> None:
        for name in ("lr", "n_beta"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ConfigError(f"LLC setting {name} must be positive, got {getattr(self, name)}")
        if self.localization < 0:
            raise ConfigError(f"LLC setting localization must be >= 0, got {self.localization}")
        for name in ("num_draws", "num_chains", "batch_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"LLC setting {name} must be >= 1, got {getattr(self, name)}")

    def batch(self, n_examples: int) -> int:
        """The minibatch size on a training set of ``n_examples``."""
        if self.batch_size is None:
            return min(DEFAULT_BATCH, n_examples)
        if self.batch_size > n_examples:
            raise ConfigError(
                f"LLC batch_size {self.batch_size} is larger than the training set "
                f"({n_examples} examples); use a smaller batch_size"
            )
        return self.batch_size

    def nbeta(self, n_examples: int) -> float:
        """The inverse temperature n beta: ``n_beta``, or devinterp's ``default_nbeta``
        m / log m for the minibatch size m of :meth:`batch` (1 where m = 1)."""
        if self.n_beta is not None:
            return self.n_beta
        m = self.batch(n_examples)
        return m / math.log(m) if m > 1 else 1.0

    @classmethod
    def grokking_example(cls) -> LLCSettings:
        """The sampler of devinterp's grokking example (eps 3e-3, n beta 2, gamma 5; module
        docstring), calibrated there for a small MLP. On our 1-layer transformer at p = 23
        its chains leave the basin and the LLC stays near 300 at every checkpoint."""
        return cls(lr=3e-3, n_beta=2.0, localization=5.0)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, text: str) -> LLCSettings:
        """Settings from ``"lr=1e-4,n_beta=50,localization=100"`` (the others default);
        ConfigError for an unknown name or a value that is not a number."""
        kinds = {f.name: f.type for f in fields(cls)}
        given: dict[str, Any] = {}
        for item in filter(None, (t.strip() for t in text.split(","))):
            name, eq, value = item.partition("=")
            name = name.strip()
            if not eq or name not in kinds:
                raise ConfigError(
                    f"LLC setting {item!r}: expected NAME=VALUE with NAME one of {', '.join(kinds)}"
                )
            try:
                number = float(value)
                is_float = str(kinds[name]).startswith("float")
                given[name] = number if is_float else int(number)
                if not is_float and number != int(number):
                    raise ValueError
            except ValueError:
                raise ConfigError(
                    f"LLC setting {name}: {value.strip()!r} is not a number of "
                    f"the right kind ({kinds[name]})"
                ) from None
        return cls(**given)


@dataclass(frozen=True)
class LLCEstimate:
    """``mean`` over chains of each chain's LLC estimate, their standard deviation
    (``std``, NaN for one chain), each chain's (``per_chain``), and the loss at w*."""

    mean: float
    std: float
    per_chain: tuple[float, ...]
    init_loss: float


class _RowsDataset(torch.utils.data.Dataset[dict[str, Tensor]]):
    """Training rows as devinterp's language-model batches: ``input_ids`` is the pair
    (row, row), so that its per-token loss, of shape (batch, 1), is the per-example loss."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"input_ids": torch.tensor([i, i])}


def estimate_llc(
    model: nn.Module, n_examples: int, row_loss: RowLoss, settings: LLCSettings | None = None
) -> LLCEstimate:
    """The LLC of ``model``'s parameters (taken as w*) with devinterp's SGLD estimator.

    Args:
        model: any module; every parameter is sampled (the module itself is not changed:
            devinterp samples a copy per chain).
        n_examples: the number n of training examples, indexed 0 .. n - 1.
        row_loss: ``(model, rows) -> per-example losses`` (the negative log-likelihood of
            each example, whose mean is L_n).
        settings: the sampler (:class:`LLCSettings`; default its defaults).

    Raises:
        ConfigError: devinterp is missing, or a minibatch is larger than the training set.
    """
    s = settings or LLCSettings()
    llc = require("devinterp.slt.llc", "the local learning coefficient")
    batch = s.batch(n_examples)

    def loss_fn(m: nn.Module, ids: Tensor) -> Tensor:
        return row_loss(m, ids[:, 0])[:, None]

    device = str(next(model.parameters()).device)
    # devinterp runs gc.collect() twice per chain; with TransformerLens and datasets loaded
    # each takes ~1 s on 2 CPU cores, more than the chain's SGLD at small p. Freezing the
    # objects that exist now (none of which the sampling frees) makes it cost milliseconds.
    gc.freeze()
    try:
        with tempfile.TemporaryDirectory() as tmp, _quiet():
            result = llc.llc(
                model,
                _RowsDataset(n_examples),
                {},
                lr=s.lr,
                n_beta=s.nbeta(n_examples),
                localization=s.localization,
                num_chains=s.num_chains,
                num_draws=s.num_draws,
                batch_size=batch,
                num_init_loss_batches=n_examples // batch,
                init_seed=s.seed,
                device=device,
                loss_fn=loss_fn,
                output_path=f"{tmp}/samples.zarr",
            )
            per_chain = tuple(float(v) for v in result["llc_per_chain"].values)
            init_loss = float(result["init_loss"].values)
    finally:
        gc.unfreeze()
    if not all(math.isfinite(v) for v in per_chain):  # devinterp warns and leaves NaN
        raise ConfigError("the LLC's SGLD chain diverged (a non-finite loss); use a smaller LLC lr")
    std = float(torch.tensor(per_chain).std()) if len(per_chain) > 1 else math.nan
    return LLCEstimate(sum(per_chain) / len(per_chain), std, per_chain, init_loss)


class ParamsModule(nn.Module):
    """A checkpoint's parameters (:data:`~grokinterp.models.Params`) as a module whose
    forward is the run's answer-position logits (the first ``n_classes``), so that a
    library that samples or inspects ``nn.Module`` parameters can use it."""

    def __init__(self, params: Params, cfg: ModelConfig, n_classes: int):
        super().__init__()
        self.names = list(params)
        self.weights = nn.ParameterList(
            [nn.Parameter(v.detach().clone().float()) for v in params.values()]
        )
        # not ``cfg``: devinterp takes a module with ``cfg.n_heads`` for TransformerLens's
        self.model_config, self.n_classes = cfg, n_classes

    def params(self) -> Params:
        return dict(zip(self.names, self.weights, strict=True))

    def forward(self, tokens: Tensor) -> Tensor:
        return answer_logits(self.params(), tokens, self.model_config)[..., : self.n_classes]


def checkpoint_llc(
    params: Params,
    cfg: ModelConfig,
    loss: str,
    inputs: Tensor,
    labels: Tensor,
    n_classes: int,
    settings: LLCSettings | None = None,
) -> LLCEstimate:
    """The LLC of one checkpoint on its training set: ``inputs`` / ``labels`` the training
    examples, ``loss`` the run's ``optim.loss`` (per example, without weight decay)."""
    model = ParamsModule(params, cfg, n_classes).to(inputs.device)
    lossf = loss_function(loss)

    def row_loss(m: nn.Module, rows: Tensor) -> Tensor:
        rows = rows.to(inputs.device)
        return lossf(m(inputs[rows]), labels[rows], reduction="none")

    return estimate_llc(model, len(inputs), row_loss, settings)


# ------------------------------------------------------------ heavy-tailed self-regularization
def weight_matrices(params: Params) -> dict[str, Tensor]:
    """The weight matrices of a checkpoint, each as one (in, out) matrix: 2-D parameters as
    they are; TransformerLens's per-head attention weights concatenated over heads
    (``W_Q``/``W_K``/``W_V`` (heads, d_model, d_head) -> (d_model, heads d_head), ``W_O``
    (heads, d_head, d_model) -> (heads d_head, d_model)). Only weights (TransformerLens
    names ``W_*``) are matrices: biases (``b_*``, even the per-head (heads, d_head) ones) and
    normalization gains are left out."""
    out: dict[str, Tensor] = {}
    for name, v in params.items():
        last = name.rsplit(".", 1)[-1]
        if not last.startswith("W_"):
            continue
        if v.ndim == 2:
            out[name] = v
        elif v.ndim == 3 and last in ("W_Q", "W_K", "W_V"):
            h, d_model, d_head = v.shape
            out[name] = v.permute(1, 0, 2).reshape(d_model, h * d_head)
        elif v.ndim == 3 and last == "W_O":
            h, d_head, d_model = v.shape
            out[name] = v.reshape(h * d_head, d_model)
    return out


def power_law_alphas(matrices: dict[str, Tensor]) -> dict[str, float]:
    """weightwatcher's power-law exponent alpha of the spectrum of each matrix (NaN where
    it fits none: fewer than 8 eigenvalues, min(N, M) < 8). One ``analyze()`` over a module
    holding one linear layer per matrix, with weightwatcher's default settings."""
    rows = _analyze(matrices, "the power-law alphas (HTSR)")
    return {name: _positive(rows[name]["alpha"]) if name in rows else math.nan for name in matrices}


def _positive(value: Any) -> float:
    """A weightwatcher fit as a number: NaN where it has none (it writes -1 or NaN)."""
    v = float(value)
    return v if math.isfinite(v) and v > 0 else math.nan


def _analyze(matrices: dict[str, Tensor], what: str, **options: Any) -> dict[str, dict[str, Any]]:
    """weightwatcher's ``analyze(**options)`` of a module holding one linear layer per
    matrix (an (in, out) matrix as a ``Linear(in, out)``); its row of details per matrix
    (none for a matrix it skips: fewer than its minimum number of eigenvalues)."""
    ww = require("weightwatcher", what)
    if not matrices:
        return {}
    names = list(matrices)
    layers = nn.ModuleList()
    for name in names:
        w = matrices[name].detach().to("cpu", torch.float32)
        layer = nn.Linear(w.shape[0], w.shape[1], bias=False)
        layer.weight.data = w.T.contiguous()  # Linear stores (out, in)
        layers.append(layer)
    with _quiet():
        details = ww.WeightWatcher(model=layers).analyze(**options)
    return {names[int(str(row["longname"]))]: dict(row) for _, row in details.iterrows()}


#: the columns of :func:`correlation_traps`, per matrix
TRAP_COLUMNS = ("alpha", "alpha_ww", "num_traps", "rand_distance", "lambda_max", "max_rand_eval",
                "rand_bulk_max")  # fmt: skip


def correlation_traps(
    matrices: dict[str, Tensor], *, fix_fingers: str | None = "clip_xmax", seed: int = 0
) -> dict[str, dict[str, float]]:
    """HTSR's layer quality and Correlation Traps of each matrix, as Prakash & Martin 2025
    (arXiv 2506.04434) measure them: weightwatcher's ``analyze(randomize=True,
    fix_fingers="clip_xmax")``. Per matrix (:data:`TRAP_COLUMNS`):

    * ``alpha``: the power-law exponent of the ESD's tail (:func:`power_law_alphas`), here
      with ``fix_fingers`` (``clip_xmax``: the largest eigenvalues that sit apart from the
      tail, "fingers", are clipped before the fit; None: the plain fit); NaN where there is
      no fit;
    * ``alpha_ww``: the same as weightwatcher writes it (-1 where there is no fit): what a
      plain mean of its ``alpha`` column, as Prakash & Martin's notebook takes, averages;
    * ``num_traps``: Correlation Traps, the number of eigenvalues of ``X = W^T W / N`` of
      the element-wise *shuffled* W above the Marchenko-Pastur bulk edge (weightwatcher's
      ``rand_num_spikes``: the MP fit's edge ``(sigma (1 + 1/sqrt(Q)))^2`` plus its
      Tracy-Widom margin, Q = N/M). Shuffling destroys correlations, so a random matrix has
      none; a few atypically large *entries* survive shuffling and make such outliers,
      whereas a correlated low-rank structure spread over many entries is a spike of W (an
      eigenvalue of W above the bulk), not a trap. For a matrix with fewer than 100
      eigenvalues weightwatcher pools the spectra of 5 shuffles (``apply_random_esd``), so
      there one atypical entry counts 5 times;
    * ``rand_distance``: the Jensen-Shannon distance between the ESD of W and that of the
      shuffled W;
    * ``lambda_max``, ``max_rand_eval``, ``rand_bulk_max``: the largest eigenvalue of W,
      of the shuffled W, and the shuffled W's bulk edge.

    weightwatcher shuffles with numpy's global generator: it is seeded with ``seed`` for
    the call (and restored after), so the result is a function of the matrices and ``seed``.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        rows = _analyze(
            matrices, "the Correlation Traps (HTSR)", randomize=True, fix_fingers=fix_fingers
        )
    finally:
        np.random.set_state(state)
    out: dict[str, dict[str, float]] = {}
    for name in matrices:  # a matrix too small for weightwatcher has no row: all NaN
        row = rows.get(name, {})
        rec = {c: float(row.get(c, math.nan)) for c in TRAP_COLUMNS if c != "alpha_ww"}
        rec["alpha_ww"] = rec["alpha"]
        rec["alpha"] = _positive(rec["alpha"])
        out[name] = rec
    return out


def checkpoint_alphas(params: Params) -> dict[str, float]:
    """Columns ``alpha.<param>`` (:func:`power_law_alphas` of :func:`weight_matrices`) and
    ``alpha_mean``, their mean over the matrices with a fit (weightwatcher's summary
    ``alpha``: NaN if none has one)."""
    alphas = power_law_alphas(weight_matrices(params))
    fitted = [a for a in alphas.values() if math.isfinite(a)]
    row = {f"alpha.{k}": v for k, v in alphas.items()}
    row["alpha_mean"] = sum(fitted) / len(fitted) if fitted else math.nan
    return row
