"""Shared fields of the evaluation presets: the network (DARTS / UNAS App. B) and its retraining.

`network_config` holds what builds a DARTS network (`launch.inspect`); `training_fields` adds
what `launch.train` needs to retrain it from scratch, with the CIFAR settings of UNAS App. B.1
as defaults. configs/eval/proxyless_imagenet.py builds the ProxylessNAS network's keys itself.
"""

import ml_collections


def network_config(
    network, genotype, num_classes, init_channels, layers, image_size, random_ops=0, **extra
):
    """Returns the keys of a DARTS eval preset, plus preset-specific `extra` fields.

    Args:
      network: "cifar" (32x32 stem, two reductions) or "imagenet" (224x224 mobile stems).
      genotype: a published name (e.g. UNAS_CIFAR10), a genotype.json path, or random:SEED.
      num_classes: classifier outputs; 0 for the data set's class count.
      init_channels: C, the first cells' channel count.
      layers: number of cells.
      image_size: input resolution (square).
      random_ops: random:SEED genotypes draw their ops from the first `random_ops` DARTS ops
        (the ImageNet search space uses five); 0 for all seven.
      **extra: further fields, e.g. drop_path_rate, or `**training_fields(...)`.
    """
    return ml_collections.ConfigDict(
        dict(
            network=network,
            genotype=genotype,
            num_classes=num_classes,
            init_channels=init_channels,
            layers=layers,
            auxiliary=True,
            image_size=image_size,
            random_ops=random_ops,
            **extra,
        )
    )


def training_fields(**overrides):
    """Returns the retraining keys (`unas_tf.retrain`), UNAS App. B.1's CIFAR-10 values by default.

    Args:
      **overrides: keys whose preset value differs from the CIFAR-10 one.

    Returns:
      A dict to pass to `network_config` as extra fields.

    Raises:
      KeyError: an override of a key that is not a training field (a typo would otherwise be
        silently ignored by the trainer).
    """
    fields = dict(
        # digits | cifar10 | cifar100 | imagenet2012 | tfds:NAME[:CONFIG] | folder:PATH |
        # python:MODULE:FUNCTION (unas_tf/datasets/base.py)
        dataset="cifar10",
        data_dir="",  # tensorflow-datasets data_dir; empty for its default
        batch_size=128,  # global: examples per step over all replicas
        epochs=600,
        steps_per_epoch=0,  # 0 = a full pass over the training data
        lr=0.05,  # SGD learning rate at lr_reference_batch_size, cosine to 0
        lr_reference_batch_size=128,  # lr scales linearly with batch_size / this (Goyal et al.)
        warmup_epochs=0,  # linear warm-up from 0 before the cosine (App. B.2: 5 on ImageNet)
        momentum=0.9,
        weight_decay=3e-4,  # L2, added to the clipped gradient as PyTorch's SGD weight_decay
        grad_clip_norm=5.0,  # global norm of the gradient of the loss
        auxiliary_weight=0.4,  # weight of the auxiliary head's loss
        drop_path_rate=0.2,  # final drop-path probability, ramped linearly from 0 per epoch
        cutout=16,  # side of the cutout square; 0 for none (CIFAR only)
        label_smoothing=0.0,  # 0.1 on ImageNet (as DARTS; App. B.2 does not say)
        # Fraction of the training split held out of retraining and scored after every epoch
        # (val/top1, val/loss): the part a search with the same seed calls search-val. 0 trains
        # on the whole split, as the paper (App. A.2), and logs no per-epoch curve.
        validation_fraction=0.0,
        seed=0,
        deterministic=False,  # tf.config.experimental.enable_op_determinism
        log_every=50,  # steps between progress lines and summaries
        strategy="auto",  # auto | default | mirrored | multi_worker (unas_tf/strategies.py)
        checkpoints_to_keep=2,
        export=True,  # write a SavedModel to WORKDIR/export at the end
    )
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise KeyError(
            f"training_fields: unknown keys {unknown}; expected some of {sorted(fields)}"
        )
    fields.update(overrides)
    return fields
