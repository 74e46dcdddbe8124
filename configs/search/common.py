"""Shared fields of the search presets (UNAS Sec. 3.2, App. A.2 and A.3)."""

import ml_collections


def search_config(**overrides):
    """Returns the keys every search preset has, with the paper's CIFAR settings as defaults.

    Every key can be overridden from the command line with --config.KEY=VALUE.
    """
    config = ml_collections.ConfigDict(
        dict(
            dataset="digits",
            data_dir="",  # tensorflow-datasets data_dir; empty for its default
            image_size=32,
            epochs=100,
            warmup_epochs=15,  # weights only, phi frozen (App. A.2)
            steps_per_epoch=0,  # 0 = a full pass over search-train
            batch_size=64,  # global: examples per step over all replicas
            seed=0,
            deterministic=False,  # tf.config.experimental.enable_op_determinism
            estimator="rebar",  # rebar | reinforce | gumbel_softmax | random
            objective="gen",  # gen (Eq. 8) | train | val
            sampling="per_example",  # per_example | per_batch
            gap_weight=0.5,  # lambda of Eq. 8
            arch_penalty_weight=0.2,  # lambda_arch of App. A.2
            temperature=0.4,
            layers=8,
            init_channels=16,
            num_ops=7,  # the first num_ops DARTS ops (ImageNet searches use 5)
            stem="cifar",
            weight_lr=6e-4,  # Adam, cosine to weight_lr_final (App. A.2)
            weight_lr_final=1e-4,
            weight_decay=3e-4,
            grad_clip_norm=5.0,
            arch_lr=2e-3,  # Adam, cosine to arch_lr_final (App. A.2)
            arch_lr_final=3e-4,
            arch_weight_decay=1e-6,
            strategy="auto",  # auto | default | mirrored | multi_worker (unas_tf/strategies.py)
            scale_lr=False,  # multiply the four learning rates by batch_size / 64
            log_every=10,  # steps between progress lines and summaries
            eval_batches=4,  # search-val batches scoring the argmax architecture each epoch
            checkpoints_to_keep=2,
        )
    )
    config.update(overrides)
    return config
