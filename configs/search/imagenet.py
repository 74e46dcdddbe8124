"""UNAS search on ImageNet (App. A.3): 14 cells of 48+ channels, five ops, 20 epochs, 5 warm-up.

    python -m launch.search --config=configs/search/imagenet.py --workdir=/tmp/unas_imagenet \
        --config.data_dir=/path/to/tensorflow_datasets

Expected: the paper used 8 V100 GPUs for about 2 days. The ImageNet tar files must be in
tensorflow-datasets' manual_dir (the launcher says how if the data is missing).

Against the paper (section cited; "paper silent; released code: VALUE": the paper gives no
value and the paper's released code, NVlabs/unas's commands.sh and darts/train_search.py, uses
VALUE; "paper silent; preset default": the preset's own choice; the why column is blank where
they agree):

key                 | paper (section)               | this preset        | why they differ
------------------- | ----------------------------- | ------------------ | -------------------------
batch_size          | paper silent (8 V100s, App.   | 192                |
                    | A.3); released code: 8 x 24 = |                    |
                    | 192                           |                    |
epochs              | 20 (App. A.3)                 | 20                 |
warmup_epochs       | 5, phi frozen (App. A.3)      | 5                  |
weight_lr           | Adam, 3e-4 (App. A.3);        | Adam, cosine 3e-4  | the span: paper silent,
                    | schedule paper silent;        | -> 1e-4 over all   | not the released code's
                    | released code: constant in    | 20 epochs          |
                    | the warm-up, then cosine to   |                    |
                    | 1e-4 over 15 epochs           |                    |
arch_lr             | Adam, 1e-3 (App. A.3);        | Adam, cosine 1e-3  |
                    | schedule paper silent;        | -> 3e-4 over the   |
                    | released code: cosine to 3e-4 | 15 search epochs   |
                    | over 15 epochs                |                    |
lr_reference_       | not scaled over 8 GPUs (App.  | 192, False         |
batch_size,         | A.3); released code: no       |                    |
scale_lr            | --scale_lr                    |                    |
weight_decay        | 3e-4 (App. A.3)               | 3e-4, L2 in the    |
                    |                               | gradient           |
arch_weight_decay   | 1e-6 (App. A.3)               | 1e-6, L2 in the    |
                    |                               | gradient           |
grad_clip_norm      | paper silent; released code:  | 5.0 (global norm)  |
                    | 5 (global norm)               |                    |
temperature         | 0.4 (App. A.3)                | 0.4                |
weight_sample       | discrete z ~ p_phi (Eq. 7)    | relaxed, a fresh   | as the released code,
                    |                               | zeta per step      | which reuses the arch
                    |                               |                    | step's zeta
gap_weight          | lambda = 0.5 (App. A.3)       | 0.5                |
gap_form            | paper silent (Eq. 8 is per    | per_pair           |
                    | architecture); released code: |                    |
                    | per_pair                      |                    |
arch_penalty_weight | lambda_arch = 0.2 (App. A.3)  | 0.2                |
objective,          | L_gen (Eq. 8), REBAR          | gen, rebar         |
estimator           | (Sec. 4.2, Table 2)           |                    |
layers              | 14 (App. A.3)                 | 14                 |
init_channels       | 16 (App. A.3); released code: | 48 (cells of 48,   |
                    | its ImageNet search network's | 96, 192 channels,  |
                    | stem makes 3C = 48 channels   | the stem 24 -> 48) |
                    | and its cells start there     |                    |
                    | (darts/model_search.py)       |                    |
num_ops             | 5 (Sec. 4.2, App. A.1)        | 5                  |
image_size          | paper silent; preset default  | 224                |
sampling            | paper silent; released code:  | per_batch          |
                    | one sample per minibatch      |                    |
                    | (--same_alpha_minibatch)      |                    |
gsm_soften_eps      | paper silent; released code:  | 0.08               |
                    | 0.08 (commands.sh)            |                    |
search_augment      | paper silent; released code:  | none               |
                    | both centre-cropped, no       |                    |
                    | random crop nor flip (util/   |                    |
                    | datasets.py get_imagenet_     |                    |
                    | loader, mode 'search')        |                    |
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
        dataset="imagenet2012",
        image_size=224,
        stem="imagenet",
        epochs=20,
        warmup_epochs=5,
        batch_size=192,
        lr_reference_batch_size=192,
        layers=14,
        # The released search network's width (its C=16 stem makes 48 channels, and its cells
        # start at 48), which Stem("imagenet", 48) and the cell plan give here.
        init_channels=48,
        num_ops=5,
        gsm_soften_eps=0.08,
        search_augment="none",  # the released ImageNet search centre-crops both splits
        sampling="per_batch",
        weight_lr=3e-4,
        weight_lr_final=1e-4,
        arch_lr=1e-3,
        arch_lr_final=3e-4,
    )
