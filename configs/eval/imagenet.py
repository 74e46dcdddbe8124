"""ImageNet mobile network: 14 cells, C=46, auxiliary head (UNAS App. B.2; 5.07M params,
< 600M multiply-adds at 224x224).

    python -m launch.inspect --config=configs/eval/imagenet.py --config.genotype=UNAS_IMAGENET
    python -m launch.train --config=configs/eval/imagenet.py --workdir=/tmp/imagenet_train \
        --config.batch_size=1024

Retraining follows App. B.2: SGD momentum 0.9, lr 0.1 per 128 images scaled linearly with the
global batch (the paper: 128 per GPU on 8 V100s, so batch_size=1024 and lr 0.8), 5 linear warm-up
epochs then cosine to 0 over 250 epochs, weight decay 3e-5. App. B.2 does not give label
smoothing, the auxiliary weight or the augmentation; this preset uses DARTS's ImageNet ones:
label smoothing 0.1, auxiliary weight 0.4, random resized crop 224 + flip; tested on a 224
centre crop of the image resized to 256.
About 24.5% top-1 error for UNAS_IMAGENET (Table 2). The paper's colour jitter is not applied.

Against the paper (section cited; "paper silent; preset default": the paper gives no
value; "paper silent; released code: VALUE": the paper gives no value and its released code,
NVlabs/unas, uses VALUE; the why column is blank where they agree):

key                 | paper (section)               | this preset        | why they differ
------------------- | ----------------------------- | ------------------ | -------------------------
batch_size          | 128 per GPU on 8 V100s: 1024  | 128                | one-device default; pass
                    | (App. B.2)                    |                    | --config.batch_size=1024
epochs              | 250 (App. B.2)                | 250                |
lr, momentum        | SGD 0.1 per 128 images,       | 0.1 per 128        |
                    | linear scaling; momentum 0.9  | images, linear     |
                    | (App. B.2)                    | scaling; 0.9       |
schedule            | cosine to 0 (App. B.2)        | cosine to 0        |
warmup_epochs       | 5 (App. B.2)                  | 5, linear from 0   |
weight_decay        | 3e-5 (App. B.2)               | 3e-5, L2 in the    |
                    |                               | gradient           |
grad_clip_norm      | paper silent; preset default  | 5.0 (global norm)  |
drop_path_rate      | paper silent; preset default  | 0.0                |
augmentation        | crop 224, flip, colour jitter | crop 224, flip     | colour jitter not
                    | (App. B.2)                    |                    | implemented
cutout              | paper silent; preset default  | 0                  |
auxiliary_weight    | paper silent; preset default  | 0.4                |
label_smoothing     | paper silent; released code:  | 0.1                |
                    | 0.1 (darts/train_eval_        |                    |
                    | imagenet.py --label_smooth)   |                    |
validation_fraction | paper silent; preset default  | 0 (the whole       |
                    |                               | training split)    |
layers              | 14 (App. B.2)                 | 14                 |
init_channels       | < 600M multiply-adds          | 46                 |
                    | (App. B.2)                    |                    |
"""

from configs.eval import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.network_config(
        "imagenet",
        "UNAS_IMAGENET",
        num_classes=1000,
        init_channels=46,
        layers=14,
        image_size=224,
        random_ops=5,  # random:SEED cells over the 5 ops of the ImageNet search space
        **common.training_fields(
            dataset="imagenet2012",
            epochs=250,
            lr=0.1,
            warmup_epochs=5,
            weight_decay=3e-5,
            label_smoothing=0.1,
            drop_path_rate=0.0,
            cutout=0,
            log_every=100,
        ),
    )
