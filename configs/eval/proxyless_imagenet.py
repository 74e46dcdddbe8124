r"""ProxylessNAS-space ImageNet network (UNAS Sec. 5, App. E): the ProxylessNAS-GPU backbone with
one MBConv choice per searchable layer; PROXYLESS_GPU is 7.12M params and 465M multiply-adds at
224x224, UNAS_PROXYLESS 5.97M and 428M.

    python -m launch.inspect --config=configs/eval/proxyless_imagenet.py \
        --config.genotype=PROXYLESS_GPU --json
    python -m launch.latency --config=configs/eval/proxyless_imagenet.py \
        --config.genotype=UNAS_PROXYLESS --json
    python -m launch.latency --config=configs/eval/proxyless_imagenet.py \
        --config.genotype=random:3 --config.width_multiplier=0.25 --config.image_size=64 \
        --config.latency.batch_size=8 --config.latency.jit_compile=True

The paper measures batch-32 latency on a V100 (9.8 ms for UNAS_PROXYLESS, 10.1 ms for
PROXYLESS_GPU, Table 3); the full network at batch 32 takes seconds per call on a 2-core CPU,
so use a small width and resolution there. Retraining follows App. E.2: batch 512, 300 epochs of
SGD (momentum 0.9, lr 0.2 with 5 warm-up epochs, cosine to 0), weight decay 5e-5.

Against the paper (section cited; "paper silent; preset default": the paper gives no
value; "paper silent; released code: VALUE": the paper gives no value and its released code,
NVlabs/unas, uses VALUE; the why column is blank where they agree):

key                 | paper (section)               | this preset        | why they differ
------------------- | ----------------------------- | ------------------ | -------------------------
batch_size          | 512 on 8 V100s (App. E.2)     | 512                |
epochs              | 300 (App. E.2)                | 300                |
lr, momentum        | SGD 0.2, momentum 0.9         | 0.2 at batch 512,  |
                    | (App. E.2)                    | 0.9                |
schedule            | cosine to 0 (App. E.2)        | cosine to 0        |
warmup_epochs       | 5, linear (App. E.2)          | 5, linear from 0   |
weight_decay        | 5e-5 (App. E.2)               | 5e-5, L2 in the    |
                    |                               | gradient           |
grad_clip_norm      | paper silent; preset default  | 5.0 (global norm)  |
drop_path_rate      | paper silent; preset default  | 0.0                |
dropout_rate        | paper silent; preset default  | 0.0                |
cutout              | paper silent; preset default  | 0                  |
auxiliary_weight    | paper silent; preset default  | 0.0                |
                    | (no auxiliary head)           |                    |
label_smoothing     | paper silent; released code:  | 0.1                |
                    | 0.1 (proxylessnas/            |                    |
                    | train_eval.py --label_smooth) |                    |
validation_fraction | paper silent; preset default  | 0 (the whole       |
                    |                               | training split)    |
layers, channels    | 21 searchable layers,         | the same;          |
                    | ProxylessNAS-GPU channels     | width_multiplier   |
                    | (App. E.1)                    | 1.0                |
latency.batch_size  | 32 on a V100 (Sec. 5)         | 32                 |
latency device      | V100 (Sec. 5)                 | TensorFlow's       |
                    |                               | default device     |
"""

import ml_collections

from configs.eval import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return ml_collections.ConfigDict(
        dict(
            network="proxyless",
            genotype="UNAS_PROXYLESS",
            num_classes=1000,
            image_size=224,
            width_multiplier=1.0,  # scales every channel count (tests use 0.1-0.25)
            dropout_rate=0.0,  # before the classifier, in training
            latency=ml_collections.ConfigDict(
                dict(
                    batch_size=32,  # images per timed call (UNAS Sec. 5)
                    warmup_runs=3,  # untimed calls after compiling
                    repeats=20,  # timed calls; their median is the latency
                    runs_per_repeat=1,  # calls averaged per repeat
                    jit_compile=False,  # compile inference with XLA
                    clock="wall",  # or "process": CPU time, steadier on a shared CPU host
                    device="",  # e.g. /GPU:0; empty for TensorFlow's default device
                )
            ),
            # No auxiliary head in this space, so auxiliary_weight is 0.
            **common.training_fields(
                dataset="imagenet2012",
                batch_size=512,
                epochs=300,
                lr=0.2,
                lr_reference_batch_size=512,
                warmup_epochs=5,
                weight_decay=5e-5,
                label_smoothing=0.1,
                auxiliary_weight=0.0,
                drop_path_rate=0.0,
                cutout=0,
                log_every=100,
            ),
        )
    )
