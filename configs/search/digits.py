"""Search on scikit-learn's bundled handwritten digits: the offline default, a few minutes on CPU.

    python -m launch.search --workdir=/tmp/unas_digits

Expected: 1.5 to 4 minutes on a 2-core CPU (1 min 37 s on an AMD EPYC, 3 min 45 s on an
Intel Xeon before the latest speed-up; bench/README.md gives each measurement with its CPU),
under a minute of it before the first step; a genotype.json in the workdir (each epoch and
final) and TensorBoard events. The argmax architecture reaches 0.67 to 0.82 accuracy on
search-val batches by the last epoch (five runs on two CPUs; 0.73 with search-val augmented as
search-train), and its normal cell may be mostly skip and pool ops, which a warning says.

The weights' learning rate is 15x the paper's: this search has 240 steps where CIFAR's has
tens of thousands, and at 6e-4 the supernet's weights stay near chance (train loss ~2.4 after
120 steps), which leaves the architecture nothing to choose between.

Against the paper (section cited; "paper silent; preset default": the paper gives no
value; "paper silent; released code: VALUE": the paper gives no value and its released code,
NVlabs/unas, uses VALUE; the why column is blank where they agree):

key                 | paper (section)               | this preset        | why they differ
------------------- | ----------------------------- | ------------------ | -------------------------
dataset, image      | CIFAR, 32x32 (App. A.2)       | digits, 16x16      | CPU scale: offline,
                    |                               |                    | minutes
batch_size          | 124 on 4 V100s (App. A.2)     | 32                 | CPU scale
epochs              | 100 (App. A.2)                | 8 of 30 steps      | CPU scale
warmup_epochs       | 15, phi frozen (App. A.2)     | 3                  | CPU scale
weight_lr           | Adam, cosine 6e-4 -> 1e-4     | Adam, cosine 1e-2  | CPU scale: 240 steps (see
                    | (App. A.2)                    | -> 1e-3            | above)
arch_lr             | Adam, cosine 2e-3 -> 3e-4     | Adam, cosine 2e-3  |
                    | (App. A.2)                    | -> 3e-4            |
lr_reference_       | App. A.2's rates are for      | 32, False          | CPU scale: the rates are
batch_size,         | batch 124                     |                    | set for batch 32
scale_lr            |                               |                    |
weight_decay        | paper silent; preset default  | 3e-4, L2 in the    | App. A.3's ImageNet value
                    |                               | gradient           |
arch_weight_decay   | paper silent; preset default  | 1e-6, L2 in the    | App. A.3's ImageNet value
                    |                               | gradient           |
grad_clip_norm      | paper silent; preset default  | 5.0 (global norm)  |
temperature         | 0.4 (App. A.2)                | 0.4                |
weight_sample       | discrete z ~ p_phi (Eq. 7)    | relaxed, a fresh   | as the released code,
                    |                               | zeta per step      | which reuses the arch
                    |                               |                    | step's zeta
gap_weight          | lambda = 0.5 (Sec. 3.2,       | 0.5                |
                    | App. A.2)                     |                    |
gap_form            | paper silent; preset default  | per_pair           |
                    | (Eq. 8 is per architecture)   |                    |
arch_penalty_weight | lambda_arch = 0.2 (App. A.2)  | 0.2                |
objective,          | L_gen (Eq. 8), REBAR          | gen, rebar         |
estimator           | (Sec. 4.2, Table 2)           |                    |
layers              | 8 cells (App. A.2)            | 3                  | CPU scale
init_channels       | paper silent; preset default  | 8                  | CPU scale
num_ops             | 7 (App. A.1)                  | 7                  |
sampling            | paper silent; preset default  | per_example        |
gsm_soften_eps      | paper silent; released code:  | 0.0                |
                    | 0 (its default; the CIFAR     |                    |
                    | commands leave it)            |                    |
search_augment      | paper silent; released code:  | both               |
                    | both train and val batches    |                    |
                    | augmented (util/datasets.py   |                    |
                    | get_loaders_search)           |                    |
baseline_momentum   | paper silent; released code:  | 0.1                |
                    | b <- 0.1 b + 0.9 loss, from 0 |                    |
                    | (util/utils.py; REINFORCE)    |                    |
reset_weight_       | paper silent; released code:  | True: zero moments |
optimizer_after_    | a new Adam for w after the    | on the same        |
warmup              | warm-up (train_search.py)     | schedule           |
"""

from configs.search import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.darts_search_config(
        dataset="digits",
        image_size=16,
        epochs=8,
        warmup_epochs=3,
        steps_per_epoch=30,
        batch_size=32,
        lr_reference_batch_size=32,
        layers=3,
        init_channels=8,
        weight_lr=1e-2,
        weight_lr_final=1e-3,
        log_every=10,
    )
