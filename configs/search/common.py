"""Shared fields of the search presets (UNAS Sec. 3.2, App. A.2 and A.3, App. E.1)."""

import ml_collections


def search_config(**overrides):
    """Returns the keys every search preset has, with the paper's CIFAR settings as defaults.

    Every key can be overridden from the command line with --config.KEY=VALUE.
    """
    config = ml_collections.ConfigDict(
        dict(
            # digits | cifar10 | cifar100 | imagenet2012 | tfds:NAME[:CONFIG] | folder:PATH |
            # python:MODULE:FUNCTION (unas_tf/datasets/base.py)
            dataset="digits",
            data_dir="",  # tensorflow-datasets data_dir; empty for its default
            # Which search batches are randomly augmented: both (released CIFAR search) | none
            # (released ImageNet search: centre crops) | train (unas_tf/search_run.py).
            search_augment="both",
            image_size=32,
            epochs=100,
            warmup_epochs=15,  # weights only, phi frozen (App. A.2)
            steps_per_epoch=0,  # 0 = a full pass over search-train
            batch_size=124,  # global: examples per step over all replicas (App. A.2)
            seed=0,
            deterministic=False,  # tf.config.experimental.enable_op_determinism
            estimator="rebar",  # rebar | reinforce | gumbel_softmax | random
            # REINFORCE's moving-average baseline: the previous average's weight (released
            # code: 0.1 old, 0.9 new; unas_tf/estimators/reinforce.py).
            baseline_momentum=0.1,
            # Softens the sampling probabilities to (p + eps) / (1 + K eps) (released code's
            # --gsm_soften_eps; unas_tf/distributions.py softened_logits); 0 for none.
            gsm_soften_eps=0.0,
            objective="gen",  # gen (Eq. 8) | train | val
            sampling="per_example",  # per_example | per_batch
            # What w trains on (unas_tf/search_step.py weight_gradients): relaxed (a Gumbel-softmax
            # zeta) | discrete (one-hot z ~ p_phi, Eq. 7; per_batch then runs only its ops).
            weight_sample="relaxed",
            gap_weight=0.5,  # lambda of Eq. 8
            # Eq. 8's gap on a batch: per_pair (released code: mean of |L_val_i - L_train_i|)
            # | batch (|mean L_val - mean L_train|); unas_tf/objectives.py explains both.
            gap_form="per_pair",
            arch_penalty_weight=0.2,  # lambda_arch of App. A.2
            temperature=0.4,
            weight_lr=6e-4,  # Adam, cosine to weight_lr_final (App. A.2)
            weight_lr_final=1e-4,
            weight_decay=3e-4,  # L2 on w, added to the clipped gradient (App. A.3)
            # A fresh Adam for w once the warm-up ends (zero moments, same schedule), as the
            # released code's new optimizer after its init epochs.
            reset_weight_optimizer_after_warmup=True,
            grad_clip_norm=5.0,
            arch_lr=2e-3,  # Adam, cosine to arch_lr_final (App. A.2)
            arch_lr_final=3e-4,
            arch_weight_decay=1e-6,  # L2 on phi, added to its gradient (App. A.3)
            strategy="auto",  # auto | default | mirrored | multi_worker (unas_tf/strategies.py)
            # The global batch the learning rates above are set for. scale_lr multiplies the
            # whole schedule of w and phi (initial and final rates) by batch_size / this, the
            # linear scaling rule (unas_tf/search_run.py: learning_rate_schedules).
            lr_reference_batch_size=124,
            scale_lr=False,
            log_every=10,  # steps between progress lines and summaries
            eval_batches=4,  # search-val batches scoring the argmax architecture each epoch
            checkpoints_to_keep=2,
        )
    )
    config.update(overrides)
    return config


def darts_search_config(**overrides):
    """Returns the keys of a DARTS-space search: `search_config`'s and the supernet's shape."""
    darts = dict(
        space="darts",  # the search space (unas_tf/search_spaces/): darts | proxyless
        layers=8,
        init_channels=16,
        num_ops=7,  # the first num_ops DARTS ops (ImageNet searches use 5)
        stem="cifar",
    )
    return search_config(**{**darts, **overrides})


def proxyless_search_config(latency=None, **overrides):
    """Returns the keys of a ProxylessNAS-space search with the latency term (UNAS App. E.1).

    The shared keys of `search_config` plus the space, its width and the `latency` section.
    Defaults follow App. E.1: Adam on phi (1e-3 to 3e-4) and w (3e-4 to 1e-4) at batch 192,
    lambda_lat annealed from 0 to 0.1, dropout 0.1 on the skip choice; where App. E.1 is silent,
    the released code's (proxylessnas/train_search.py): L2 weight decay 3e-4 on w and 1e-6 on phi.

    Args:
      latency: overrides of the `latency` section's keys.
      **overrides: overrides of the other keys.
    """
    config = search_config(
        space="proxyless",  # the search space (unas_tf/search_spaces/): darts | proxyless
        width_multiplier=1.0,  # scales every channel count of the backbone
        skip_dropout_rate=0.1,  # dropout on the skip choice during search (App. E.1)
        # Start residual candidates as the identity (ProxylessSupernet in
        # unas_tf/search_spaces/proxyless/supernet.py); False is ProxylessNAS's initialisation.
        zero_init_residual=False,
        arch_penalty_weight=0.0,  # the DARTS-cell penalty of App. A.2 has nothing to act on
        batch_size=192,
        lr_reference_batch_size=192,
        weight_lr=3e-4,
        weight_lr_final=1e-4,
        weight_decay=3e-4,
        arch_lr=1e-3,
        arch_lr_final=3e-4,
        arch_weight_decay=1e-6,
        gsm_soften_eps=0.08,  # the released proxylessnas/train_search.py default
    )
    config.latency = latency_config(**(latency or {}))
    config.update(overrides)
    return config


def latency_config(**overrides):
    """Returns the `latency` section of a latency-aware search (UNAS Sec. 5, App. E.1).

    Its defaults are the paper's ImageNet setting on the search's own device; a preset in any
    space adds the section to measure architectures and add the latency term.

    Args:
      **overrides: overrides of the section's keys.
    """
    latency = ml_collections.ConfigDict(
        dict(
            target_ms=10.0,  # t_target: latencies above it cost lambda_lat per millisecond
            # Or (target_ms=0) the target as this quantile of the surrogate's random
            # architectures measured on this machine (unas_tf/latency/target.py).
            target_quantile=0.0,
            weight=0.1,  # lambda_lat at the end of the ramp, linear from 0 (App. E.1)
            # Search steps lambda_lat ramps over; 0: every search step (App. E.1 is silent;
            # the released code's latency_iter is 30000 steps).
            ramp_steps=0,
            estimator="relax",  # relax (UNAS Eq. 5, g as control variate) | reinforce
            surrogate_architectures=10_000,  # random architectures g is fit to (Sec. 5)
            holdout_fraction=0.2,  # of those, held out to report g's MAE and R^2
            l2=10.0,  # ridge penalty of g (bench/latency.py: small samples need it)
            refit_every_epoch=False,  # refit g with the search's measurements too
            # Where latencies come from (unas_tf/latency/backends.py): graph (tf.function,
            # timed) | tflite (TFLite interpreter, timed) | table:PATH (a per-choice table).
            backend="graph",
            # The timing meter (unas_tf/latency/measure.py), as in
            # configs/eval/proxyless_imagenet.py.
            batch_size=32,  # images per timed call (UNAS Sec. 5); <= batch_size
            warmup_runs=3,
            repeats=20,
            runs_per_repeat=1,
            jit_compile=False,
            clock="wall",  # or "process": CPU time, steadier on a shared CPU host
            device="",  # e.g. /GPU:0; empty for TensorFlow's default device
            image_size=0,  # resolution latency is measured at (deployment); 0: image_size
            # Measure in a child process with its own thread pools (measuring_process.py),
            # with intra_op_threads threads (0: TensorFlow's default).
            separate_process=False,
            intra_op_threads=0,
        )
    )
    latency.update(overrides)
    return latency
