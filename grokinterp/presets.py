"""Named configurations for ``grokinterp train --preset``.

* ``nanda``: Nanda et al. 2023 (arXiv 2301.05217): a + b mod 113, 30% of pairs for
  training, 1-layer transformer (d_model 128, 4 heads of 32, d_mlp 512, ReLU, no
  LayerNorm), full-batch AdamW lr 1e-3, weight decay 1, betas (0.9, 0.98), 10 warm-up
  steps, 40k steps. About 0.04 s a step on 2 CPU cores with our forward.
* ``quick``: a smaller setup that groks in well under 3 minutes on 2 CPU cores (see
  docs/reference/presets.md for the measured landmarks); for demos and tests.
* ``efficiency``: the CPU-sized circuit-efficiency study (Varma et al. 2023;
  docs/results/efficiency.md): a + b mod 47 as ``quick``, on a narrower transformer (d_model 64,
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

The papers' own transformers (issue 26), as configurations of the one transformer family
(:class:`grokinterp.config.ModelConfig`'s ``sequence``, ``normalization``, ``positional``,
biases, ``causal`` and ``transformer_init``); every value cites the authors' code
(repository@commit file:line) or the paper, in a comment beside it:

* ``power``: Power et al. 2022 (arXiv 2201.02177; openai/grok@3d64b1d): x / y mod 97 on 50%
  of the equations, a 2-layer post-LN decoder (d_model 128, 4 heads, FFN 512 without biases,
  ReLU, fixed sinusoidal positions) over ``<eos> x op y =``, AdamW lr 1e-3, betas (0.9,
  0.98), weight decay 1, 10 warm-up steps from lr 0, minibatches of 512 (an epoch's
  remainder a shorter last batch), 10^5 updates. Where we differ: their loss is the mean
  cross-entropy over the two tokens after ``=``: the answer z, predicted at ``=``, and the
  closing ``<eos>``, predicted at z with the true z as input (teacher forcing;
  grok/training.py:L301-314, grok/data.py:L357, L469-470); ours is the answer's alone, since
  the dataset's rows ``[a, b, =]`` do not carry z as an input. The answer's logits are the
  same function (the causal mask keeps z out of them), so what differs is the loss and its
  gradient: ours is twice their answer term, without their ``<eos>`` term, whose gradient
  also reaches the shared weights in their training; and their accuracy counts an equation
  right only when both z and ``<eos>`` are the argmax (grok/training.py:L264-266), ours when
  z is. Also: their ``<eos>``, ``=`` and operator tokens are rows of a 239-token vocabulary
  whose 139 other rows (other operators, S5 permutations) are never read (ours has no rows
  for them; the unembedding does score all 239, as theirs), and the loss is float64 (theirs
  float32: ``loss="softmax32"`` gives it).
* ``grokfast``: Lee et al. 2024's released baseline (arXiv 2405.20233; ironjr/grokfast@
  93b2248 main.py): x * y mod 97 for y != 0 on 50% of the 9,312 equations (as ``div``, x *
  y^-1 over the same pairs: the same table up to relabelling y by its inverse), a 2-layer
  transformer (d_model 128, 4 heads, GELU MLP 512 with biases, learned positions, attention
  biases) whose blocks are ``x = LN1(x); x = x + attn(x); x = x + mlp(LN2(x))`` (the
  attention's residual adds to the normalized stream), a final LayerNorm and a bias-free
  head over all p + 2 tokens, on ``[x, op, y, =]`` with the loss at the last position; Adam
  lr 1e-3, betas (0.9, 0.98), no weight decay, 10 warm-up steps from lr 0, minibatches of
  512 (the remainder a shorter last batch), 3 x 10^5 updates; Grokfast's filter off (their
  recipes: ``--grokfast ema --grokfast-alpha 0.98 --grokfast-lamb 2.0 --weight-decay
  0.005``, README.md:L195). Where we differ: their y tokens are those of x * y, ours of x *
  y^-1 (a relabelling, so the same learning problem in distribution but not per seed), their
  position table has 5 rows of which 4 are read (ours 4), and the loss is float64 (theirs
  float32: ``loss="softmax32"`` gives it).
* ``prieto_transformer``: Prieto et al. 2025's transformer (arXiv 2501.04697; LucasPrietoAl/
  grokking-at-the-edge-of-numerical-stability@0cc9e8d): a + b mod 113 on 40% of the pairs,
  one ``nn.TransformerEncoderLayer(128, 4)`` (post-LN, FFN 2048 with biases, ReLU, attention
  biases, no mask, no positions) on ``[x, y]``, read at the last position by a linear head
  with bias; full-batch AdamW lr 1e-3, betas (0.9, 0.99), eps 1e-25, no weight decay, no
  warm-up, 5,000 steps (their Figure 6 baseline; ``--weight-decay 1.5`` and
  ``--orthogonal-grad`` are its other two runs), dropout 0.1 in training at the encoder
  layer's four sites (PyTorch's default, in ``model.train()`` mode,
  grokking_experiments.py:L107; ``model.dropout``, so it trains one run at a time, not in
  the ensemble). Where we differ: their pairs are x, y in 1 .. p - 1 (datasets.py:L134; ours
  include 0); their split is ``random_split`` with seed 42. The loss is their float32
  cross-entropy (``loss="softmax32"``; ``softmax`` is the float64 one).

* ``minegishi_mlp``: Minegishi et al. 2024's dense MLP (arXiv 2310.19470; gouki510/Grokking-
  Tickets@8cee814), the base run of their grokking tickets: a + b mod 67 over the 2,278 pairs
  a <= b, 40% for training split by their ``random.seed(seed)`` shuffle (``split_seed`` is
  their seed, also the init's), their OnlyMLP (500-wide embeddings N(0, 1/67), a bias-free
  500 -> 48 projection shared by both tokens and summed, ReLU, a bias-free 48 -> 500, the
  500 -> 67 unembedding), full-batch AdamW lr 1e-3, betas (0.9, 0.98), weight decay 1, no
  warm-up, 30,000 steps. Where we differ: our embedding has one more row (the ``=`` token,
  never read); the loss is float64 as theirs (``cross_entropy_high_precision``).

* ``doshi_mlp``: Doshi et al. 2024's coexistence run (arXiv 2310.13061; d-doshi/Grokking@
  0b4335f, ``Notebooks/Grokking_with_label_corruption.ipynb``, "Pruning (from Coexistence
  phase)"): a + b mod 97, half the pairs for training (split by ``random.seed(420)``'s
  shuffle), 35% of the training labels corrupted, their ``fcn``: one-hot pairs (2p inputs),
  a bias-free 2p -> 500 layer, x^2, a bias-free 500 -> p readout, both N(0, 1/(4 (2 N)^(2/3))),
  MSE against one-hot labels, full-batch AdamW lr 1e-2, betas (0.9, 0.98), eps 1e-8, no
  weight decay, no warm-up, 1,000 steps. Where we differ: each corrupted label is a wrong
  class uniform over the p - 1 others (theirs: uniform over all p, ``torch.manual_seed(0)``),
  and which training examples are corrupted is our seeded draw (theirs: the first 35% of
  their shuffled training set).

* ``counterfactual``: a TARNet-like network on the ``counterfactual`` task (Hill 2011's IHDP
  response surface B on 747 simulated units, 672 for training), as Samothrakis et al. 2022
  (IJCNN) configure theirs in their released code (ssamot/starnet@cc942a0): one tanh
  representation layer and a linear head per arm (ours: 128 units, no batch norm, linear
  heads on the raw outcomes), Adam lr 1e-3 with their L2 penalty 0.001 w^2 as ``adam``
  weight decay 0.002, the factual squared error, full batch, 30,000 steps.

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
    # Power et al. 2022; _G = openai/grok@3d64b1d
    "power": TrainConfig(
        task=TaskConfig(
            name="div",  # x / y mod p, y != 0: paper Fig. 1 left; _G grok/data.py:L222-227
            p=97,  # _G grok/data.py:L43 (MODULUS = 97)
            # 50%: paper Fig. 1 left's caption as recalled, not re-read from the paper's text
            # in this change (the code's default is 5%, _G grok/training.py:L102)
            train_fraction=0.5,
        ),
        model=ModelConfig(
            n_layers=2,  # _G grok/training.py:L87
            d_model=128,  # _G grok/training.py:L89
            n_heads=4,  # _G grok/training.py:L88
            d_head=32,  # d_model / heads: _G grok/transformer.py:L135
            d_mlp=512,  # 4 x d_model: _G grok/transformer.py:L181, L187
            act_fn="relu",  # _G grok/training.py:L92
            sequence="eos_a_op_b_eq",  # <eos> x op y = (z <eos>): _G grok/data.py:L250, L357
            normalization="post",  # LN(x + attn(x)), LN(x + ffn(x)): _G transformer.py:L230-234
            positional="sinusoidal",  # _G grok/transformer.py:L304-306, L325-347
            attn_bias=False,  # _G grok/transformer.py:L89-91, L142
            mlp_bias=False,  # _G grok/transformer.py:L192, L194
            unembed_bias=False,  # _G grok/transformer.py:L318
            causal=True,  # _G grok/transformer.py:L321-322, L113-115
            transformer_init="torch_linear",  # no init of their own: PyTorch's defaults
            d_vocab_out=239,  # the head scores every token: _G grok/data.py:L124-132
        ),
        optim=OptimConfig(
            lr=1e-3,  # _G grok/training.py:L108; paper App. A.1.2
            weight_decay=1.0,  # paper App. A.1.2 (code default 0, grok/training.py:L109)
            beta1=0.9,  # _G grok/training.py:L225
            beta2=0.98,  # _G grok/training.py:L225
            eps=1e-8,  # _G grok/training.py:L226
            warmup_steps=10,  # _G grok/training.py:L103
            warmup_from_zero=True,  # lr * step / warmup from step 0: _G grok/training.py:L200-201
            batch_size=512,  # min(512, ceil(n / 2)) = 512 here: _G grok/data.py:L434-435
            drop_last=False,  # the epoch's last, shorter batch: _G grok/data.py:L464-470, L479
            max_steps=100_000,  # _G grok/training.py:L846
        ),
        schedule=ScheduleConfig(
            log_every=100, ckpt_log_until=10_000, ckpt_log_count=30, ckpt_every=5000
        ),
    ),
    # Lee et al. 2024 (Grokfast); _L = ironjr/grokfast@93b2248
    "grokfast": TrainConfig(
        task=TaskConfig(
            # their x * y mod p over x in 0..p-1, y in 1..p-1 (_L main.py:L73-87): the div
            # table x * y^-1 over the same pairs, its y tokens relabelled by y -> y^-1 (a
            # bijection of 1..p-1; with i.i.d. embedding rows the same problem in distribution)
            name="div",
            p=97,  # _L main.py:L245
            train_fraction=0.5,  # _L main.py:L114
        ),
        model=ModelConfig(
            n_layers=2,  # _L main.py:L105-106
            d_model=128,  # _L main.py:L106
            n_heads=4,  # _L main.py:L106
            d_head=32,  # nn.MultiheadAttention: d_model / heads, _L main.py:L24
            d_mlp=512,  # dim * 4: _L main.py:L26
            act_fn="gelu",  # nn.GELU() (exact erf): _L main.py:L27
            sequence="a_op_b_eq",  # model(input[:-1]) of [x, op, y, =, z]: _L main.py:L87, L157
            normalization="grokfast",  # x = ln_1(x); x = x + a; x + mlp(ln_2(x)): _L main.py:L38-42
            positional="learned",  # nn.Embedding(seq_len, dim): _L main.py:L53, L63-64
            attn_bias=True,  # nn.MultiheadAttention's default bias=True: _L main.py:L24
            mlp_bias=True,  # nn.Linear's default: _L main.py:L26, L28
            unembed_bias=False,  # _L main.py:L59
            causal=True,  # _L main.py:L32-35
            transformer_init="torch_mha",  # no init of their own: PyTorch's defaults
            d_vocab_out=99,  # num_tokens = p + 2: _L main.py:L59, L106
        ),
        optim=OptimConfig(
            lr=1e-3,  # _L main.py:L248
            optimizer="adam",  # torch.optim.Adam: _L main.py:L119-124, L252
            weight_decay=0.0,  # _L main.py:L251
            beta1=0.9,  # _L main.py:L249
            beta2=0.98,  # _L main.py:L250
            eps=1e-8,  # torch.optim.Adam's default: _L main.py:L119-124
            warmup_steps=10,  # _L main.py:L127-129
            warmup_from_zero=True,  # lr * update / 10 from update 0: _L main.py:L128
            batch_size=512,  # _L main.py:L247
            drop_last=False,  # torch.split keeps the shorter last batch: _L main.py:L152
            max_steps=300_000,  # budget 3e5: _L main.py:L140, L246
        ),
        schedule=ScheduleConfig(
            log_every=100, ckpt_log_until=10_000, ckpt_log_count=30, ckpt_every=10_000
        ),
    ),
    # Prieto et al. 2025; _P = LucasPrietoAl/grokking-at-the-edge-of-numerical-stability@0cc9e8d
    "prieto_transformer": TrainConfig(
        task=TaskConfig(
            name="add",  # add_mod, the default: _P utils.py:L233; binary_operations.py:L5-6
            p=113,  # _P utils.py:L184, L215
            train_fraction=0.4,  # _P run_main_experiments.sh:L87-94 (Figure 6)
        ),
        model=ModelConfig(
            n_layers=1,  # _P utils.py:L184
            d_model=128,  # _P utils.py:L184
            n_heads=4,  # _P utils.py:L184
            d_head=32,  # nn.MultiheadAttention: d_model / heads
            d_mlp=2048,  # TransformerEncoderLayer's dim_feedforward default: _P models.py:L35
            act_fn="relu",  # TransformerEncoderLayer's default activation: _P models.py:L35
            sequence="a_b",  # (x, y) pairs, no '=' token: _P datasets.py:L134; models.py:L40
            normalization="post",  # norm_first=False, the default: _P models.py:L35
            positional="none",  # no positional encoding: _P models.py:L34-44
            attn_bias=True,  # bias=True, the default: _P models.py:L35
            mlp_bias=True,  # bias=True, the default: _P models.py:L35
            unembed_bias=True,  # nn.Linear's default: _P models.py:L37
            causal=False,  # no mask: _P models.py:L42
            transformer_init="torch_mha",  # no init of their own: PyTorch's defaults
            d_vocab_out=113,  # vocab_size = 113 logits: _P models.py:L37; utils.py:L184
            # TransformerEncoderLayer's default dropout, trained in train() mode: _P
            # models.py:L35; grokking_experiments.py:L107
            dropout=0.1,
        ),
        optim=OptimConfig(
            lr=1e-3,  # _P run_main_experiments.sh:L93
            weight_decay=0.0,  # the default: _P utils.py:L275 (L90-91's run: 1.5)
            beta1=0.9,  # _P utils.py:L194
            beta2=0.99,  # the default: _P utils.py:L289
            eps=1e-25,  # the default: _P utils.py:L291
            warmup_steps=0,  # no scheduler by default: _P utils.py:L278
            batch_size=None,  # full batch: _P utils.py:L242; grokking_experiments.py:L36-37
            max_steps=5000,  # 5000 full-batch epochs: _P run_main_experiments.sh:L93
            # cross-entropy at float32 precision, their default: _P utils.py:L52-67, L224-225,
            # L269; grokking_experiments.py:L73-83
            loss="softmax32",
        ),
        schedule=ScheduleConfig(
            log_every=10, ckpt_log_until=1000, ckpt_log_count=20, ckpt_every=250
        ),
    ),
    # Minegishi et al. 2024; _M = gouki510/Grokking-Tickets@8cee814
    "minegishi_mlp": TrainConfig(
        task=TaskConfig(
            name="add_unordered",  # 'add', is_symmetric_input: _M config.py:L13, L16
            p=67,  # _M config.py:L10
            train_fraction=0.4,  # _M config.py:L15
            split_method="python_random",  # random.seed; shuffle: _M data_module.py:L19-22
            split_seed=1,  # their config.seed: _M config.py:L23; train.py:L48
        ),
        model=ModelConfig(
            arch="mlp",  # OnlyMLP, num_layers 0 hidden-to-hidden: _M config.py:L25, L28
            n_layers=1,  # inproj then outproj: _M model.py:L270-310
            d_model=500,  # d_emb: _M config.py:L11
            d_mlp=48,  # d_model: _M config.py:L12
            act_fn="relu",  # _M config.py:L36
            mlp_combine="sum",  # x.sum(dim=1) after inproj (linear): _M model.py:L299-303
            mlp_bias=False,  # MLP has W only: _M model.py:L139-155
            mlp_out_proj=True,  # outproj 48 -> 500 before Unembed: _M model.py:L307-308
            mlp_init="embed_vocab",  # Embed N(0, 1/d_vocab): _M model.py:L32-36
        ),
        optim=OptimConfig(
            lr=1e-3,  # _M config.py:L8
            weight_decay=1.0,  # _M config.py:L9
            beta1=0.9,  # _M train.py:L45
            beta2=0.98,  # _M train.py:L45
            warmup_steps=0,  # the LambdaLR warm-up is commented out: _M train.py:L46
            batch_size=None,  # full batch: _M train.py (full_loss_mlp on all of train)
            max_steps=30000,  # num_epochs: _M config.py:L17
        ),
        seed=1,  # _M config.py:L23
        schedule=ScheduleConfig(
            log_every=50, ckpt_log_until=400, ckpt_log_count=4, ckpt_every=1000
        ),
    ),
    # Doshi et al. 2024; _D = d-doshi/Grokking@0b4335f, _N = _D's
    # Notebooks/Grokking_with_label_corruption.ipynb, "Pruning (from Coexistence phase)":
    # cell 31 (hyper-parameters) and cell 32 (model and training), 0-based over all cells
    "doshi_mlp": TrainConfig(
        task=TaskConfig(
            name="add",  # operation='addition': _N cell 31 L21; _D utils/datasets.py:L18
            p=97,  # _N cell 31 L3
            train_fraction=0.5,  # data_frac: _N cell 31 L4; _D utils/datasets.py:L34
            split_method="python_random",  # random.seed; shuffle: _D utils/datasets.py:L23-26
            split_seed=420,  # pair_seed: _N cell 0 L28
            label_noise=0.35,  # noise_level: _N cell 31 L5; _D utils/datasets.py:L37-44
        ),
        model=ModelConfig(
            arch="mlp",  # fcn(2*p, N, p): _N cell 32 L4; _D utils/models.py:L23-45
            n_layers=1,  # fc1, act, fc2: _D utils/models.py:L31-34, L42-45
            d_mlp=500,  # N: _N cell 31 L7
            act_fn="quadratic",  # nnPower(2): _D utils/models.py:L10-16, L33
            mlp_input="onehot",  # F.one_hot of both operands, flattened: _D datasets.py:L32
            mlp_bias=False,  # bias=False: _D utils/models.py:L31-32
            mlp_init="doshi",  # std 0.25**0.5 / (2N)^(1/3): _D utils/models.py:L39-40
        ),
        optim=OptimConfig(
            lr=1e-2,  # _N cell 31 L13
            weight_decay=0.0,  # wd: _N cell 31 L14 (the coexistence phase)
            beta1=0.9,  # _N cell 32 L39
            beta2=0.98,  # _N cell 32 L39
            eps=1e-8,  # _N cell 32 L39
            warmup_steps=0,  # no scheduler: _N cell 32 L49-52
            batch_size=None,  # the whole training set each step: _D optimization.py:L112-124
            max_steps=1000,  # epochs (full-batch steps): _N cell 31 L10
            loss="mse",  # losstype='MSE', nn.MSELoss on one-hot: _N cell 32 L51;
            # _D utils/optimization.py:L87-88, L116-120
        ),
        seed=0,
        schedule=ScheduleConfig(  # their data_every = epochs // 50 = 20: _N cell 31 L11
            log_every=20, ckpt_log_until=20, ckpt_log_count=1, ckpt_every=50
        ),
    ),
    # Samothrakis et al. 2022 (IJCNN, "Grokking-like effects in counterfactual inference");
    # _S = ssamot/starnet@cc942a0 (their "selected code"): a TARNet-like two-headed network
    # on the counterfactual task (Hill's IHDP surface B on simulated covariates)
    "counterfactual": TrainConfig(
        task=TaskConfig(
            name="counterfactual",
            p=None,
            n_samples=747,  # IHDP's 747 units (Hill 2011)
            train_fraction=0.9,  # 672 training units, 75 held out (ours)
            train_size=None,
        ),
        model=ModelConfig(
            arch="mlp",  # one representation layer, then a head per arm: _S common.py:L92-128
            n_layers=1,
            d_mlp=128,  # their n_neurons is an argument tuned per data set (ours: 128)
            act_fn="tanh",  # Activation("tanh"): _S common.py:L95
            mlp_input="features",
        ),
        optim=OptimConfig(
            optimizer="adam",  # Adam(learning_rate=0.001): _S common.py:L31
            lr=1e-3,
            beta2=0.999,  # Keras' Adam default
            weight_decay=0.002,  # l2(0.001) adds 0.001 w^2: gradient 0.002 w (_S L39)
            warmup_steps=0,
            batch_size=None,  # 512 per arm (_S common.py:L12, counterfactualnn.py:L123-124)
            loss="factual_mse",  # each head on its arm's units: _S counterfactualnn.py:L155-173
            max_steps=30_000,  # their n_iterations is the caller's (not released; ours)
        ),
        schedule=ScheduleConfig(
            log_every=100, ckpt_log_until=1000, ckpt_log_count=3, ckpt_every=5000
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
