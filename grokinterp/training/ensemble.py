"""Train many same-shape runs at once, as one batched computation.

Members share the task (name and size), the model shape and the schedule; they may differ
in seed, split (``split_seed``, ``train_fraction`` / ``train_size``), labels
(``random_labels``, ``label_seed``), every optimizer hyper-parameter, ``init_scale`` and the
stopping rule, and in the batch size (full batch or minibatches). Their parameters are
stacked along a leading member axis and the forward is
:func:`grokinterp.models.answer_logits` with a leading members axis (natively batched for
the transformer and the MLP); AdamW is applied to each member's views of the stacked
tensors with its own hyper-parameters (the fused kernel a single run uses,
:mod:`grokinterp.training.adamw`). Each member's training set is gathered into a padded
``(members, max_train, 3)`` batch with per-row weights, so the loss of member m is the
mean cross-entropy (float64) over exactly its own training set; a member trained with
minibatches draws, at every update, the rows its own seeded stream gives it
(:class:`grokinterp.training.batches.Minibatches`, the same stream a run trained alone
draws), gathered into a padded ``(members, max_rows, 3)`` batch weighted ``1 / batch_size``.

Every member writes an ordinary run directory, identical (within float tolerance) to what
:func:`grokinterp.training.loop.train` writes for it alone, state file included: a member can be
continued alone with ``grokinterp train --resume``, in the middle of a minibatch epoch too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError, DivergedError
from grokinterp.models import answer_logits, cross_entropy32, loss_function, softmax_collapse
from grokinterp.runs.lock import dir_lock
from grokinterp.runs.sinks import Sink, check_kinds, open_sinks
from grokinterp.tasks import Dataset, train_size
from grokinterp.training.adamw import Settings, adamw_, settings_of
from grokinterp.training.allocator import keep_freed_memory
from grokinterp.training.batches import Minibatches
from grokinterp.training.constraints import apply_constraints_, make_constraints
from grokinterp.training.core import (
    EarlyLoss,
    RunWriter,
    begin,
    check_finite,
    initial_params,
    initial_weights,
    metrics_row,
    output_size,
)
from grokinterp.training.interventions import coefficients, make_filter, orthogonalize_
from grokinterp.training.preflight import preflight
from grokinterp.training.schedule import EMBEDDING, Schedule, lr_at
from grokinterp.training.spectral import (
    SPECTRAL,
    SpectralSettings,
    hidden_names,
    spectral_settings_of,
    spectral_step_,
)
from grokinterp.training.state import FilterState, LoopState, SavedState

StatusFn = Callable[[Path, str, str | None], None]  # run dir, status, error
_Slots = tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]  # p, grad, m, v
_Group = tuple[TrainConfig, _Slots, _Slots, list[int]]  # a config, its slots, the members


def shape_key(cfg: TrainConfig) -> str:
    """Runs with equal keys can be trained together."""
    model = asdict(cfg.model)
    model.pop("init_scale")
    t = cfg.task
    key = {
        # members share the inputs: a generated task's (n_bits, n_samples, data_seed) too
        "task": (t.name, t.p, t.n, t.n_bits, t.n_samples, t.data_seed),
        "model": model,
        "schedule": asdict(cfg.schedule),
        "max_steps": cfg.optim.max_steps,
        # the interventions' kinds are shared; their alpha and lambda may differ per member
        "interventions": [getattr(cfg.optim, f) for f in SHARED_INTERVENTION_FIELDS],
        # which parameters take a spectral step is shared; its settings may differ
        "spectral": cfg.optim.optimizer if cfg.optim.optimizer in SPECTRAL else None,
    }
    return json.dumps(key, sort_keys=True)


SHARED_INTERVENTION_FIELDS = (
    "grokfast", "grokfast_window", "grokfast_warmup", "loss", "orthogonal_grad"
)  # fmt: skip


# A batch pays a fixed cost per step (Python, kernel launches) besides its padded rows.
# Measured on 2 CPU cores for the efficiency preset by benchmarks/bench_ensemble_cost.py
# (least squares over 7 batches of 1-6 members and 200-1600 rows, twice): 0.65-0.74 ms
# fixed + 2.2-2.3 us per padded row + 0.1-0.3 ms per member, so the fixed cost is worth
# about 300 rows (700 before the fused AdamW and the other speed-ups of version 0.3). Used
# to decide when members that compute different numbers of rows per update (training-set
# sizes, batch sizes: :func:`step_rows`) train apart rather than padded to the largest.
STEP_OVERHEAD_ROWS = 300


def step_rows(cfg: TrainConfig) -> int:
    """The rows one update of ``cfg`` computes: its training-set size, or its batch size
    when that is smaller (what an ensemble pads to, per member)."""
    n = train_size(cfg.task)
    return min(cfg.optim.batch_size or n, n)


def split_by_size(
    n_train: Sequence[int], overhead_rows: int = STEP_OVERHEAD_ROWS
) -> list[list[int]]:
    """Partition members (indices into ``n_train``, the rows each computes per update:
    :func:`step_rows`) into batches, each padded to its largest, minimizing
    ``sum over batches of (overhead_rows + members * largest)``: an exact dynamic programme
    over the members sorted by size (an optimal partition is contiguous in that order)."""
    order = sorted(range(len(n_train)), key=lambda i: n_train[i])
    sizes = [n_train[i] for i in order]
    best = [0.0] + [float("inf")] * len(sizes)
    cut = [0] * (len(sizes) + 1)
    for j in range(1, len(sizes) + 1):
        for i in range(j):  # batch = sorted members i .. j-1, padded to sizes[j-1]
            cost = best[i] + overhead_rows + (j - i) * sizes[j - 1]
            if cost < best[j]:
                best[j], cut[j] = cost, i
    batches, j = [], len(sizes)
    while j > 0:
        batches.append(order[cut[j] : j])
        j = cut[j]
    return batches[::-1]


def train_groups(
    jobs: Sequence[tuple[TrainConfig, Path]],
    *,
    progress: bool = True,
    status: StatusFn | None = None,
    device: str = "cpu",
    log_to: Sequence[str] = (),
    wandb_project: str = "grokinterp",
) -> None:
    """Train ``(config, run_dir)`` jobs, batching those of the same shape together (and,
    within a shape, members of similar rows per update: :func:`split_by_size`); ``log_to``
    and ``wandb_project`` as in :func:`grokinterp.training.loop.train`, per member."""
    check_ensemble_configs([cfg for cfg, _ in jobs])  # before any group trains
    for batch in ensemble_batches(jobs):
        train_ensemble(
            [cfg for cfg, _ in batch],
            [d for _, d in batch],
            progress=progress,
            status=status,
            device=device,
            log_to=log_to,
            wandb_project=wandb_project,
        )


J = TypeVar("J")


def ensemble_batches(jobs: Sequence[tuple[TrainConfig, J]]) -> list[list[tuple[TrainConfig, J]]]:
    """The batches :func:`train_groups` trains together: the jobs of one shape
    (:func:`shape_key`), split by rows per update (:func:`step_rows`, :func:`split_by_size`)."""
    groups: dict[str, list[tuple[TrainConfig, J]]] = {}
    for cfg, d in jobs:
        groups.setdefault(shape_key(cfg), []).append((cfg, d))
    return [
        [members[i] for i in batch]
        for members in groups.values()
        for batch in split_by_size([step_rows(c) for c, _ in members])
    ]


def _stack(tensors: Sequence[Tensor]) -> Tensor:
    return torch.stack(list(tensors)).contiguous()


def check_ensemble_configs(cfgs: Sequence[TrainConfig]) -> None:
    """Refuse, in one line, the configs only the single-run loop trains (a sweep calls this
    before any run starts)."""
    if any(c.optim.loss == "factual_mse" for c in cfgs):
        raise ConfigError(
            "config field optim.loss: factual_mse (the counterfactual task) trains one run at "
            "a time (grokinterp train, or a sweep with backend local); the ensemble trainer "
            "does not log its effect metrics"
        )
    if any(c.model.dropout for c in cfgs):
        raise ConfigError(
            "config field model.dropout: a run with dropout trains one run at a time "
            "(grokinterp train, or a sweep or study with backend local); the ensemble trainer "
            "draws no dropout masks"
        )


def train_ensemble(
    cfgs: Sequence[TrainConfig],
    run_dirs: Sequence[str | Path],
    *,
    progress: bool = True,
    status: StatusFn | None = None,
    device: str = "cpu",
    log_to: Sequence[str] = (),
    wandb_project: str = "grokinterp",
) -> list[Path]:
    """Train (or resume) every member; members resuming from different steps are trained
    in separate batches, one per starting step. Each member logs to ``log_to`` as a run
    of its own."""
    if len(cfgs) != len(run_dirs) or not cfgs:
        raise ValueError("give one run directory per config, and at least one")
    keys = {shape_key(c) for c in cfgs}
    if len(keys) > 1:
        raise ConfigError(
            "ensemble members must share task, model shape and schedule; "
            "use train_groups to split them"
        )
    dirs = [Path(d) for d in run_dirs]
    check_ensemble_configs(cfgs)
    check_kinds(log_to)
    # every check before anything on disk is touched; the members are held at once
    datasets = [preflight(cfg, device, copies=len(cfgs)) for cfg in cfgs]
    keep_freed_memory()
    with ExitStack() as locks:
        for d in dirs:
            locks.enter_context(dir_lock(d, "run"))
        by_start: dict[int, list[_Member]] = {}
        for cfg, ds, d in zip(cfgs, datasets, dirs, strict=True):
            member = _Member(cfg, ds, d, begin(cfg, d, resume=True, force=False))
            by_start.setdefault(member.loop.step, []).append(member)
        for _step, members in sorted(by_start.items()):
            while members:  # a batch that sheds stopped members goes on as a smaller one
                sinks = [open_sinks(log_to, m.dir, m.cfg.to_dict(), wandb_project) for m in members]
                going = _Ensemble(members, device).run(progress, status, sinks, shed=not log_to)
                members = [
                    _Member(m.cfg, m.dataset, m.dir, begin(m.cfg, m.dir, resume=True, force=False))
                    for m in going
                ]
    return dirs


# A batch whose stopping rules have ended at least this share of its members goes on
# without them (at a checkpoint step, where every running member has just saved its state,
# resumed from there): its forward and backward no longer pay for members that stopped.
SHED_SHARE = 0.25


class _Member:
    """One run of an ensemble: its config, directory, loop state and minibatch stream (the
    stream train() draws and keeps in its state, so the member can resume alone)."""

    def __init__(self, cfg: TrainConfig, ds: Dataset, run_dir: Path, saved: SavedState | None):
        self.cfg, self.dir, self.saved = cfg, run_dir, saved
        self.loop = saved.loop if saved is not None else LoopState()
        self.active = True
        self.dataset = ds
        self.batches = Minibatches(cfg, int(ds.train_mask.sum()), saved)


class _Ensemble:
    """Members of one shape, starting at one step, trained as one batched computation."""

    def __init__(self, members: list[_Member], device: str):
        self.members, self.device = members, device
        self.m = len(members)
        self.model_cfg = members[0].cfg.model
        datasets = [mb.dataset for mb in members]
        ds0 = datasets[0]
        self.inputs = ds0.inputs.to(device)
        self.d_vocab, self.d_out = ds0.d_vocab, output_size(members[0].cfg, ds0)
        self.labels = _stack([d.labels for d in datasets]).to(device)  # (M, N)
        # train() trains on the rows in this order (the nonzero entries of the mask)
        self.x_train, self.y_train, self.train_w = self._padded(
            [torch.nonzero(d.train_mask).flatten() for d in datasets]
        )
        self.x_test, self.y_test, self.test_w = self._padded(
            [torch.nonzero(~d.train_mask).flatten() for d in datasets]
        )
        # minibatch members: each update gathers every member's rows of the step (all of
        # them for a full-batch member) into a padded (M, max_rows) batch weighted 1/rows
        self.minibatch = not all(mb.batches.full for mb in members)
        rows = [mb.batches.rows for mb in members]
        self.batch_w = torch.zeros(self.m, max(rows), dtype=torch.float64)
        self._batch_rows = torch.zeros(self.m, max(rows), dtype=torch.long)
        for i, r in enumerate(rows):
            self.batch_w[i, :r] = 1.0 / r
            self._batch_rows[i, :r] = torch.arange(r)  # a full-batch member's, in order
        self.batch_w = self.batch_w.to(device)
        first = [
            mb.saved.params
            if mb.saved is not None
            else initial_params(mb.cfg, self.d_vocab, self.d_out)
            for mb in members
        ]
        self.layout = [(n, tuple(t.shape)) for n, t in first[0].items()]
        # muon / egd: these take the spectral step, per member over the members axis
        self.hidden = hidden_names(members[0].cfg, self.layout)
        self.sizes = [int(np.prod(shape)) for _, shape in self.layout]
        self.params = self._flat(first).requires_grad_(True)
        saved = [mb.saved for mb in members]
        # projections after every step, per member (fixed norm, ...); fresh members start
        # projected, as train() starts them
        self.constraints = make_constraints([mb.cfg for mb in members], [mb.dir for mb in members])
        fresh = torch.tensor([s is None for s in saved])
        if fresh.any():
            apply_constraints_(self.constraints, self.views(self.params.detach()), fresh)
        # Kumar et al.'s centered predictor: each member's initial weights (core.py)
        self.base: dict[str, Tensor] | None = None
        if self.model_cfg.center_output:
            start = [
                initial_weights(mb.cfg, mb.dir, {n: t[i] for n, t in self.views(
                    self.params.detach()).items()}, mb.saved)
                for i, mb in enumerate(members)
            ]  # fmt: skip
            self.base = self.views(self._flat([w for w in start if w is not None]))
        if saved[0] is not None and saved[0].moments:  # a group shares its start step
            names = [n for n, _ in self.layout]
            self.adam_step = saved[0].adam_step
            self.exp_avg = self._flat(
                [{n: s.moments[n][0] for n in names} for s in saved if s is not None]
            )
            self.exp_avg_sq = self._flat(
                [{n: s.moments[n][1] for n in names} for s in saved if s is not None]
            )
        else:
            self.adam_step = 0
            self.exp_avg, self.exp_avg_sq = (
                torch.zeros_like(self.params),
                torch.zeros_like(self.params),
            )
        # the gradient accumulates into one persistent buffer (zeroed before each backward),
        # so each member's views of it, as of the weights and moments, are built once: the
        # fused AdamW updates them as the tensors of a run trained alone (adamw.py)
        self.grad = torch.zeros_like(self.params)
        self.params.grad = self.grad
        self._slots = [self._member_slots(i) for i in range(self.m)]
        self._grouped: tuple[tuple[bool, ...], list[_Group]] | None
        self._grouped = None
        optim0 = members[0].cfg.optim
        self.loss_fn = loss_function(optim0.loss)
        self.grad_filter = make_filter(optim0)
        self.alpha, self.lamb = (
            c.to(device) for c in coefficients([mb.cfg.optim for mb in members])
        )
        self._load_filter(saved)

    def _flat(self, per_member: Sequence[dict[str, Tensor]]) -> Tensor:
        """Members' named tensors as one flat (members, n_params) buffer."""
        return torch.cat(
            [_stack([t[n] for t in per_member]).flatten(1) for n, _ in self.layout], dim=1
        ).to(self.device)

    def views(self, flat: Tensor) -> dict[str, Tensor]:
        """Named (members, *shape) views into a flat (members, n_params) buffer."""
        parts = flat.split(self.sizes, dim=1)
        return {
            name: part.view(self.m, *shape)
            for (name, shape), part in zip(self.layout, parts, strict=True)
        }

    def _padded(self, rows: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Each member's rows (pair indices) as a padded (M, n_max, 3) batch of inputs,
        (M, n_max) labels and (M, n_max) float64 weights 1/n (0 on padding)."""
        n_max = max(len(r) for r in rows)
        idx = torch.zeros(self.m, n_max, dtype=torch.long)
        weight = torch.zeros(self.m, n_max, dtype=torch.float64)
        for i, r in enumerate(rows):
            idx[i, : len(r)] = r
            weight[i, : len(r)] = 1.0 / max(len(r), 1)
        idx = idx.to(self.device)
        return self.inputs[idx], torch.gather(self.labels, 1, idx), weight.to(self.device)

    def _member_slots(self, i: int) -> tuple[_Slots, _Slots]:
        """Member i's (weights, gradients, first and second moments) as per-parameter views
        of the stacked buffers: those of its parameters other than the embedding, and of
        the embedding (which may have its own lr and weight decay)."""
        buffers = [self.params.detach(), self.grad, self.exp_avg, self.exp_avg_sq]
        named = [self.views(b) for b in buffers]
        rest: _Slots = ([], [], [], [])
        embed: _Slots = ([], [], [], [])
        for name, _ in self.layout:
            if name in self.hidden:  # updated by _spectral, all members at once
                continue
            slots = embed if name == EMBEDDING else rest
            for views, lst in zip(named, slots, strict=True):
                lst.append(views[name][i])
        return rest, embed

    def _update_groups(self) -> list[_Group]:
        """The active members grouped by optimizer settings (members of one group have the
        same settings at every update): a member's config, and the group's slots apart from
        the embedding and of the embedding. Rebuilt when a member stops."""
        active = tuple(mb.active for mb in self.members)
        if self._grouped is None or self._grouped[0] != active:
            Key = tuple[Settings, Settings, SpectralSettings | None, int, bool]
            groups: dict[Key, _Group] = {}
            for i, mb in enumerate(self.members):
                if not mb.active:
                    continue
                o = mb.cfg.optim
                key = (
                    *settings_of(mb.cfg, 0),
                    spectral_settings_of(mb.cfg, 0),
                    o.warmup_steps,
                    o.warmup_from_zero,
                )
                _, rest, embed, idx = groups.setdefault(
                    key, (mb.cfg, ([], [], [], []), ([], [], [], []), [])
                )
                idx.append(i)
                for into, slots in ((rest, self._slots[i][0]), (embed, self._slots[i][1])):
                    for lst, views in zip(into, slots, strict=True):
                        lst.extend(views)
            self._grouped = (active, list(groups.values()))
        return self._grouped[1]

    @torch.no_grad()
    def _adamw(self, update: int) -> None:
        """AdamW update number ``update`` (0-based) of the active members, each with its own
        settings (one fused call per distinct setting); members that have stopped are left
        unchanged."""
        self.adam_step += 1
        for cfg, rest, embed, idx in self._update_groups():
            for setting, (p, g, m, v) in zip(settings_of(cfg, update), (rest, embed), strict=True):
                adamw_(p, g, m, v, self.adam_step, setting)
            spectral = spectral_settings_of(cfg, update)
            if spectral is not None:
                self._spectral(idx, spectral)

    def _spectral(self, idx: list[int], s: SpectralSettings) -> None:
        """The spectral step of the hidden matrices of members ``idx`` (one setting),
        batched over them (:func:`grokinterp.training.spectral.spectral_step_`)."""
        params, grads = self.views(self.params.detach()), self.views(self.grad)
        bufs = self.views(self.exp_avg)
        every = idx == list(range(self.m))
        rows = torch.tensor(idx, device=self.params.device)
        for name in self.hidden:
            if every:  # the stacked views themselves, updated in place
                spectral_step_(name, params[name], grads[name], bufs[name], s)
                continue
            p, b = params[name][rows], bufs[name][rows]
            spectral_step_(name, p, grads[name][rows], b, s)
            params[name][rows] = p
            bufs[name][rows] = b

    def _losses(
        self, params: dict[str, Tensor], x: Tensor, y: Tensor, w: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Per-member weighted mean loss (float64) over rows of x, and the logits."""
        logits = answer_logits(params, x, self.model_cfg, self.base)  # (M, rows, d_out)
        ce = self.loss_fn(logits, y, reduction="none")
        return (ce * w).sum(1), logits

    def _next_batch(self) -> tuple[Tensor, Tensor, Tensor]:
        """The inputs ``(M, max_rows, ...)``, labels ``(M, max_rows)`` and row weights of
        this update: each active minibatch member's next batch from its own stream (a
        shorter last batch of an epoch, with ``drop_last`` off, weighs 1 / its rows); a
        full-batch member's whole training set. Padding rows have weight 0."""
        idx = self._batch_rows.clone()
        w = self.batch_w
        for i, mb in enumerate(self.members):
            if mb.active and not mb.batches.full:
                rows = mb.batches.next(mb.loop)
                idx[i, : len(rows)] = rows
                if len(rows) < mb.batches.rows:
                    w = w.clone() if w is self.batch_w else w
                    w[i] = 0.0
                    w[i, : len(rows)] = 1.0 / len(rows)
        idx = idx.to(self.device)
        x = torch.gather(self.x_train, 1, idx.unsqueeze(-1).expand(-1, -1, self.x_train.shape[-1]))
        return x, torch.gather(self.y_train, 1, idx), w

    @staticmethod
    @torch.no_grad()
    def _accuracy(logits: Tensor, y: Tensor, w: Tensor) -> Tensor:
        """Per-member accuracy over the rows with weight (counts, exact, as the single-run
        loop's); computed at logged steps only."""
        rows = w > 0
        return ((logits.argmax(-1) == y) & rows).sum(1).double() / rows.sum(1)

    @torch.no_grad()
    def _numerics(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """Per member: the training set's softmax collapse and float32 cross-entropy."""
        w = self.train_w
        rows = w > 0
        collapse = (softmax_collapse(logits) & rows).sum(1).double() / rows.sum(1)
        loss32 = (cross_entropy32(logits, self.y_train, reduction="none").double() * w).sum(1)
        return collapse, loss32

    @torch.no_grad()
    def _transform_gradients(self) -> None:
        """Grokfast's filter on the flat gradient, then ⊥Grad per member and parameter: the
        functions the single-run loop applies per parameter."""
        grad = self.params.grad
        assert grad is not None
        if self.grad_filter is not None:
            self.grad_filter({"flat": grad}, self.alpha, self.lamb)
        if self.members[0].cfg.optim.orthogonal_grad:
            weights = self.views(self.params.detach())
            for name, g in self.views(grad).items():
                orthogonalize_(g, weights[name], batch_dims=1)

    def _member_filter(self, i: int) -> FilterState | None:
        """Member i's share of the Grokfast state, by parameter name (its state file's)."""
        if self.grad_filter is None:
            return None
        state = self.grad_filter.state.get("flat")
        if state is None:
            return {}, self.grad_filter.count
        member = state[..., i, :]  # EMA: (n,); MA: (window, n)
        lead = member.shape[:-1]
        parts = member.split(self.sizes, dim=-1)
        named = {
            n: p.reshape(*lead, *shape) for (n, shape), p in zip(self.layout, parts, strict=True)
        }
        return named, self.grad_filter.count

    def _load_filter(self, saved: list[SavedState | None]) -> None:
        """Continue the Grokfast filter from the members' state files (a group shares its
        start step, so all or none of them have one)."""
        if self.grad_filter is None or saved[0] is None or not saved[0].grad_filter[0]:
            return
        states = [s.grad_filter[0] for s in saved if s is not None]
        lead = states[0][self.layout[0][0]].dim() - len(self.layout[0][1])  # 0 EMA, 1 MA
        flat = torch.cat(
            [
                torch.stack([st[n] for st in states], dim=lead).flatten(lead + 1)
                for n, _ in self.layout
            ],
            dim=-1,
        ).to(self.device)
        self.grad_filter.load({"flat": flat}, saved[0].grad_filter[1])

    def _log(
        self,
        params: dict[str, Tensor],
        train: tuple[Tensor, Tensor],
        last: list[bool],
        writers: list[RunWriter],
        status: StatusFn | None,
    ) -> None:
        """Metrics lines, stopping rule and checkpoints of the members that log this step (a
        logging step of the schedule, or their last); members whose run ends here stop."""
        logs = self.schedule.logs(self.members[0].loop.step)
        with torch.no_grad():
            test_loss, test_logits = self._losses(params, self.x_test, self.y_test, self.test_w)
            test_acc = self._accuracy(test_logits, self.y_test, self.test_w)
            acc = self._accuracy(train[1], self.y_train, self.train_w)
            collapse, loss32 = self._numerics(train[1])
            norms = {n: t.flatten(1).norm(dim=1).tolist() for n, t in params.items()}
            # per-member floats, each tensor read once
            loss_l, acc_l, test_loss_l, test_acc_l, collapse_l, loss32_l = (
                t.tolist() for t in (train[0], acc, test_loss, test_acc, collapse, loss32)
            )
        for i, (mb, writer) in enumerate(zip(self.members, writers, strict=True)):
            if not mb.active or not (logs or last[i]):
                continue
            lp, step = mb.loop, mb.loop.step
            member_norms = {n: v[i] for n, v in norms.items()}
            row = metrics_row(
                step,
                (loss_l[i], acc_l[i]),
                (test_loss_l[i], test_acc_l[i]),
                member_norms,
                lr_at(mb.cfg, step),
                writer.elapsed(),
                (collapse_l[i], loss32_l[i]),
            )
            writer.log(row)
            try:
                check_finite(row, mb.dir)
            except DivergedError as e:  # this member stops; the others go on
                mb.active = False
                writer.close()
                if status is not None:
                    status(mb.dir, "diverged", str(e))
                continue
            lp.observe(mb.cfg, loss_l[i], test_acc_l[i])
            last[i] = last[i] or lp.finished(mb.cfg.optim.max_steps)
            if step in self.schedule.checkpoints or last[i]:
                m_views, v_views = self.views(self.exp_avg), self.views(self.exp_avg_sq)
                moments = (
                    {n: (m_views[n][i], v_views[n][i]) for n in params}
                    if self.adam_step > 0
                    else {}
                )
                gen_state, perm = mb.batches.state()
                writer.checkpoint(
                    {n: t[i] for n, t in params.items()},
                    moments,
                    self.adam_step,
                    lp,
                    gen_state,
                    perm,
                    self._member_filter(i),
                )
                if self.early.due(step, True):
                    self.early.write(i, step)
            if last[i]:
                mb.active = False
                writer.close()
                if status is not None:
                    status(mb.dir, "done", None)

    def run(
        self,
        progress: bool,
        status: StatusFn | None,
        sinks: Sequence[Sequence[Sink]] = (),
        shed: bool = False,
    ) -> list[_Member]:
        """Train the members to their ends; with ``shed``, stop instead at the first
        checkpoint step where at least :data:`SHED_SHARE` of
        them have ended, and return the members still running (each has just saved its
        state there), to go on in a smaller batch; else return []."""
        cfg0 = self.members[0].cfg
        self.schedule = Schedule.of(cfg0)
        step = self.members[0].loop.step
        self.early = EarlyLoss(cfg0, [mb.dir for mb in self.members], [step] * self.m, self.device)
        member_sinks = list(sinks) or [[] for _ in self.members]
        writers = [
            RunWriter(mb.dir, mb.loop, s) for mb, s in zip(self.members, member_sinks, strict=True)
        ]
        if status is not None:
            for mb in self.members:
                status(mb.dir, "running", None)
        bar = tqdm(
            total=self.schedule.max_steps,
            initial=step,
            disable=not progress,
            unit="step",
            desc=f"ensemble of {self.m}",
        )
        try:
            while True:
                last = [
                    mb.active and mb.loop.finished(mb.cfg.optim.max_steps) for mb in self.members
                ]
                params = self.views(self.params)
                logs = any(last) or self.schedule.logs(step)
                if self.minibatch:  # the logged train metrics: a forward over every row
                    with torch.no_grad():
                        train = (
                            self._losses(params, self.x_train, self.y_train, self.train_w)
                            if logs
                            else None
                        )
                else:  # the step's full-batch loss, whose forward also gives them
                    train = self._losses(params, self.x_train, self.y_train, self.train_w)
                if logs:
                    assert train is not None
                    self._log(params, train, last, writers, status)
                    done = sum(not mb.active for mb in self.members)
                    bar.set_postfix(done=done, running=self.m - done, refresh=False)
                if step == self.early.n and step not in self.schedule.checkpoints:
                    for i, mb in enumerate(self.members):
                        if mb.active:
                            self.early.write(i, step)
                running = [mb for mb in self.members if mb.active]
                if not running:
                    break
                if (
                    shed
                    and logs
                    and step in self.schedule.checkpoints
                    and len(running) <= (1 - SHED_SHARE) * self.m
                ):
                    return running
                if self.minibatch:  # drawn after the state of this step is written
                    x, y, weights = self._next_batch()
                    loss = self._losses(params, x, y, weights)[0]
                else:
                    assert train is not None
                    loss = train[0]
                self.early.record(step, loss)
                self.grad.zero_()
                loss.sum().backward()
                self._transform_gradients()
                self._adamw(step)
                if self.constraints:
                    active = torch.tensor([mb.active for mb in self.members])
                    apply_constraints_(self.constraints, self.views(self.params.detach()), active)
                step += 1
                for mb in self.members:
                    mb.loop.step = step
                bar.update(1)
        finally:
            for w in writers:
                if not w.closed:
                    w.close()
            bar.close()
        return []


__all__ = ["shape_key", "split_by_size", "step_rows", "train_ensemble", "train_groups"]
