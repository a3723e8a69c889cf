"""Train many same-shape runs at once, as one batched computation.

Members share the task (name and size), the model shape and the schedule; they may differ
in seed, split (``split_seed``, ``train_fraction`` / ``train_size``), labels
(``random_labels``, ``label_seed``), every optimizer hyper-parameter, ``init_scale`` and the
stopping rule. Their parameters are stacked along a leading member axis and the forward
is :func:`grokinterp.models.answer_logits` with a leading members axis (natively batched
for the transformer, under ``torch.func.vmap`` for the MLP); AdamW is applied to
the stacked tensors with per-member hyper-parameters (the same update as
``torch.optim.AdamW``). Each member's training set is gathered into a padded
``(members, max_train, 3)`` batch with per-row weights, so the loss of member m is the
mean cross-entropy (float64) over exactly its own training set.

Every member writes an ordinary run directory, identical (within float tolerance) to what
:func:`grokinterp.train.train` writes for it alone, state file included: a member can be
continued alone with ``grokinterp train --resume``. Full-batch training only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from grokinterp import rundir
from grokinterp.config import TrainConfig
from grokinterp.errors import ConfigError
from grokinterp.io import save_tensors
from grokinterp.models import answer_logits
from grokinterp.tasks import make_dataset, train_size
from grokinterp.train import (
    _Loop,
    _prepare_dir,
    _truncate_metrics,
    checkpoint_steps,
    initial_params,
    lr_at,
    read_state,
    stop_rule_met,
    write_state,
)

StatusFn = Callable[[Path, str], None]


def _reached(step: int, stop_at: int | None) -> bool:
    return stop_at is not None and step >= stop_at


def shape_key(cfg: TrainConfig) -> str:
    """Runs with equal keys can be trained together."""
    model = asdict(cfg.model)
    model.pop("init_scale")
    key = {"task": (cfg.task.name, cfg.task.p, cfg.task.n), "model": model,
           "schedule": asdict(cfg.schedule), "max_steps": cfg.optim.max_steps,
           "batch_size": cfg.optim.batch_size}
    return json.dumps(key, sort_keys=True)


# A batch pays a fixed cost per step (Python, kernel launches) besides its padded rows.
# Measured on 2 CPU cores for the efficiency preset (least squares over 7 batches of 1-6
# members and 200-1600 rows): 3.1 ms fixed + 4.3 us per padded row + 0.8 ms per member,
# so the fixed cost is worth about 700 rows. Used to decide when members of different
# training-set sizes train apart rather than padded to the largest.
STEP_OVERHEAD_ROWS = 700


def split_by_size(n_train: Sequence[int], overhead_rows: int = STEP_OVERHEAD_ROWS
                  ) -> list[list[int]]:
    """Partition members (indices into ``n_train``) into batches, each padded to its largest
    training set, minimizing ``sum over batches of (overhead_rows + members * largest)``:
    an exact dynamic programme over the members sorted by size (an optimal partition is
    contiguous in that order)."""
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
        batches.append(order[cut[j]:j])
        j = cut[j]
    return batches[::-1]


def train_groups(jobs: Sequence[tuple[TrainConfig, Path]], *, progress: bool = True,
                 status: StatusFn | None = None, device: str = "cpu") -> None:
    """Train ``(config, run_dir)`` jobs, batching those of the same shape together (and,
    within a shape, members of similar training-set size: :func:`split_by_size`)."""
    groups: dict[str, list[tuple[TrainConfig, Path]]] = {}
    for cfg, d in jobs:
        groups.setdefault(shape_key(cfg), []).append((cfg, d))
    for members in groups.values():
        for batch in split_by_size([train_size(c.task) for c, _ in members]):
            train_ensemble([members[i][0] for i in batch], [members[i][1] for i in batch],
                           progress=progress, status=status, device=device)


def _stack(tensors: Sequence[Tensor]) -> Tensor:
    return torch.stack(list(tensors)).contiguous()


def train_ensemble(
    cfgs: Sequence[TrainConfig],
    run_dirs: Sequence[str | Path],
    *,
    progress: bool = True,
    status: StatusFn | None = None,
    device: str = "cpu",
) -> list[Path]:
    """Train (or resume) every member; members resuming from different steps are trained
    in separate batches, one per starting step."""
    if len(cfgs) != len(run_dirs) or not cfgs:
        raise ValueError("give one run directory per config, and at least one")
    keys = {shape_key(c) for c in cfgs}
    if len(keys) > 1:
        raise ConfigError("ensemble members must share task, model shape and schedule; "
                          "use train_groups to split them")
    if cfgs[0].optim.batch_size is not None:
        raise ConfigError("the ensemble backend trains full-batch only (batch_size: null); "
                          "use the local backend for minibatch runs")
    dirs = [Path(d) for d in run_dirs]
    start: dict[int, list[int]] = {}
    for i, (cfg, d) in enumerate(zip(cfgs, dirs, strict=True)):
        resuming = _prepare_dir(cfg, d, resume=True, force=False)
        step = read_state(d).loop.step if resuming else 0
        start.setdefault(step, []).append(i)
    for _step, idx in sorted(start.items()):
        _Ensemble([cfgs[i] for i in idx], [dirs[i] for i in idx], device).run(progress, status)
    return dirs


class _Ensemble:
    def __init__(self, cfgs: list[TrainConfig], dirs: list[Path], device: str):
        self.cfgs, self.dirs, self.device = cfgs, dirs, device
        self.m = len(cfgs)
        self.model_cfg = cfgs[0].model
        datasets = [make_dataset(c.task) for c in cfgs]
        ds0 = datasets[0]
        self.inputs = ds0.inputs.to(device)
        self.d_vocab, self.n_classes = ds0.d_vocab, ds0.n_classes
        self.d_out = self.model_cfg.d_vocab_out or ds0.n_classes
        self.labels = _stack([d.labels for d in datasets]).to(device)  # (M, N)
        train_rows = [torch.nonzero(d.train_mask).flatten() for d in datasets]  # train.py's order
        self.n_train = [len(r) for r in train_rows]
        self.x_train, self.y_train, self.train_w = self._padded(train_rows)
        self.x_test, self.y_test, self.test_w = self._padded(
            [torch.nonzero(~d.train_mask).flatten() for d in datasets])
        # per-member hyper-parameters, shaped to broadcast over a stacked parameter
        o = [c.optim for c in cfgs]
        self.wd = torch.tensor([x.weight_decay for x in o], dtype=torch.float64)
        self.b1 = torch.tensor([x.beta1 for x in o], dtype=torch.float64)
        self.b2 = torch.tensor([x.beta2 for x in o], dtype=torch.float64)
        self.eps = torch.tensor([x.eps for x in o], dtype=torch.float64)

    def _init(self) -> tuple[Tensor, Tensor, Tensor, int, list[_Loop], list[Tensor],
                             list[Tensor]]:
        per_member, moments, loops, gen_states, perms = [], [], [], [], []
        adam_step = 0
        for cfg, d, n_tr in zip(self.cfgs, self.dirs, self.n_train, strict=True):
            if (d / rundir.STATE).exists():
                saved = read_state(d)
                per_member.append(saved.params)
                moments.append(saved.moments)
                adam_step = saved.adam_step
                loops.append(saved.loop)
                gen_states.append(saved.batch_gen_state)
                perms.append(saved.batch_perm)
                _truncate_metrics(d, saved.loop.step)
            else:
                per_member.append(initial_params(cfg, self.d_vocab, self.d_out))
                moments.append({})
                loops.append(_Loop())
                bg = torch.Generator()
                bg.manual_seed(cfg.seed + 1_000_003)  # the stream train.py keeps in its state
                perms.append(torch.randperm(n_tr, generator=bg))
                gen_states.append(bg.get_state())
                if (d / rundir.METRICS).exists():
                    (d / rundir.METRICS).unlink()
        names = list(per_member[0])
        self.layout = [(n, tuple(per_member[0][n].shape)) for n in names]
        self.sizes = [int(np.prod(shape)) for _, shape in self.layout]

        def flat(tensors: list[dict[str, Tensor]]) -> Tensor:
            return torch.cat([_stack([t[n] for t in tensors]).flatten(1) for n in names],
                             dim=1).to(self.device)

        params = flat(per_member).requires_grad_(True)
        if moments[0]:
            exp_avg = flat([{n: mo[n][0] for n in names} for mo in moments])
            exp_avg_sq = flat([{n: mo[n][1] for n in names} for mo in moments])
        else:
            exp_avg, exp_avg_sq = torch.zeros_like(params), torch.zeros_like(params)
        return params, exp_avg, exp_avg_sq, adam_step, loops, gen_states, perms

    def views(self, flat: Tensor) -> dict[str, Tensor]:
        """Named (members, *shape) views into a flat (members, n_params) buffer."""
        parts = flat.split(self.sizes, dim=1)
        return {name: part.view(self.m, *shape)
                for (name, shape), part in zip(self.layout, parts, strict=True)}

    @torch.no_grad()
    def _adamw(self, p: Tensor, m: Tensor, v: Tensor, lr: Tensor, t: int,
               active: list[bool]) -> None:
        """torch.optim.AdamW's update of flat (members, n_params) buffers, in place, with
        per-member hyper-parameters; members that have stopped are left unchanged."""
        g = p.grad
        assert g is not None
        frozen = [i for i, a in enumerate(active) if not a]
        saved = (p[frozen].clone(), m[frozen].clone(), v[frozen].clone()) if frozen else None

        def col(x: Tensor) -> Tensor:
            return x.reshape(-1, 1).to(device=p.device, dtype=p.dtype)

        step_size = col(lr / (1 - self.b1**t))
        bc2_sqrt = col(torch.sqrt(1 - self.b2**t))
        p.mul_(1 - col(lr * self.wd))
        m.lerp_(g, col(1 - self.b1))
        v.mul_(col(self.b2)).addcmul_(g, g * col(1 - self.b2))
        denom = (v.sqrt() / bc2_sqrt).add_(col(self.eps))
        p.sub_(step_size * m / denom)
        if saved is not None:
            p[frozen], m[frozen], v[frozen] = saved

    def _losses(self, params: dict[str, Tensor], x: Tensor, y: Tensor,
                w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-member weighted mean loss (float64) and accuracy over rows of x."""
        if self.model_cfg.arch == "transformer":  # natively batched over the members axis
            logits = answer_logits(params, x, self.model_cfg)  # (M, rows, d_out)
        else:
            def one(prm: dict[str, Tensor], xi: Tensor) -> Tensor:
                return answer_logits(prm, xi, self.model_cfg)

            logits = torch.func.vmap(one)(params, x)
        ce = F.cross_entropy(logits.double().flatten(0, 1), y.flatten(),
                             reduction="none").view_as(w)
        loss = (ce * w).sum(1)
        acc = (((logits.argmax(-1) == y).double() * w).sum(1))
        return loss, acc, logits

    @torch.no_grad()
    def _test_metrics(self, params: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        loss, acc, _ = self._losses(params, self.x_test, self.y_test, self.test_w)
        return loss, acc

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

    def run(self, progress: bool, status: StatusFn | None) -> None:
        cfgs, dirs = self.cfgs, self.dirs
        flat, exp_avg, exp_avg_sq, t, loops, gen_states, perms = self._init()
        names = [n for n, _ in self.layout]
        max_steps = cfgs[0].optim.max_steps
        ckpts = set(checkpoint_steps(cfgs[0].schedule, max_steps))
        step = loops[0].step
        stop_at: list[int | None] = [lp.stop_at for lp in loops]
        active = [True] * self.m
        files = [(d / rundir.METRICS).open("a") for d in dirs]
        t0 = [time.perf_counter() - lp.wall_time for lp in loops]
        if status is not None:
            for d in dirs:
                status(d, "running")
        bar = tqdm(total=max_steps, initial=step, disable=not progress, unit="step",
                   desc=f"ensemble of {self.m}")
        try:
            while True:
                last = [active[i] and (step >= max_steps or _reached(step, stop_at[i]))
                        for i in range(self.m)]
                params = self.views(flat)
                loss, acc, _ = self._losses(params, self.x_train, self.y_train, self.train_w)
                loss_d, acc_d = loss.detach(), acc.detach()
                log = step % cfgs[0].schedule.log_every == 0 or step in ckpts
                if log or any(last):
                    test_loss, test_acc = self._test_metrics(params)
                    with torch.no_grad():
                        norms = {n: params[n].flatten(1).norm(dim=1).tolist() for n in names}
                for i, cfg in enumerate(cfgs):
                    if not active[i] or not (log or last[i]):
                        continue
                    member_norms = {n: norms[n][i] for n in names}
                    row = {
                        "step": step, "train_loss": float(loss_d[i]), "train_acc": float(acc_d[i]),
                        "test_loss": float(test_loss[i]), "test_acc": float(test_acc[i]),
                        "param_norm": float(np.sqrt(sum(v * v for v in member_norms.values()))),
                        "param_norms": member_norms, "lr": lr_at(cfg, step),
                        "wall_time": time.perf_counter() - t0[i],
                    }
                    files[i].write(json.dumps(row) + "\n")
                    files[i].flush()
                    if stop_at[i] is None and stop_rule_met(cfg, float(loss_d[i]),
                                                            float(test_acc[i])):
                        stop_at[i] = step + cfg.optim.stop_patience
                        last[i] = last[i] or _reached(step, stop_at[i])
                    if step in ckpts or last[i]:
                        lp = _Loop(step=step, wall_time=time.perf_counter() - t0[i],
                                   stop_at=stop_at[i])
                        save_tensors(rundir.checkpoint_path(dirs[i], step),
                                     {n: params[n][i] for n in names}, {"step": str(step)})
                        m_views, v_views = self.views(exp_avg), self.views(exp_avg_sq)
                        moments = ({n: (m_views[n][i], v_views[n][i]) for n in names}
                                   if t > 0 else {})
                        write_state(dirs[i], moments, t, lp, gen_states[i], perms[i])
                    if last[i]:
                        active[i] = False
                        files[i].close()
                        if status is not None:
                            status(dirs[i], "done")
                if not any(active):
                    break
                flat.grad = None
                loss.sum().backward()
                lr = torch.tensor([lr_at(c, step) for c in cfgs], dtype=torch.float64)
                t += 1
                self._adamw(flat, exp_avg, exp_avg_sq, lr, t, active)
                step += 1
                bar.update(1)
        finally:
            for f in files:
                if not f.closed:
                    f.close()
            bar.close()


__all__ = ["shape_key", "split_by_size", "train_ensemble", "train_groups"]


