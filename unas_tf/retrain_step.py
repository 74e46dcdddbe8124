"""The retraining step (UNAS App. B): one replica, one step, and its `strategy.run`.

`RetrainTrainer.replica_step` is one replica's step on one batch; `train_step` runs it through
`strategy.run`. The optimisation is the DARTS / UNAS PyTorch code's: the gradient of the loss
clipped to a global norm, then weight decay added to it as PyTorch's `SGD(weight_decay=...)` does
(coupled L2 on every weight, not clipped), the auxiliary head's loss weighted 0.4 by default.
`retrain_run.RetrainTask` builds the network and optimizer and drives the steps.
"""

import dataclasses

import tensorflow as tf

from unas_tf import objectives, strategies


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """What the retraining step needs to know beyond its modules.

    Attributes:
      global_batch_size: examples per step over all replicas.
      auxiliary_weight: weight of the auxiliary head's cross-entropy.
      label_smoothing: mass spread uniformly over the classes of the targets.
      weight_decay: L2 coefficient, added to the clipped gradient as `weight_decay * w`.
      grad_clip_norm: global norm the gradient of the loss is clipped to.
    """

    global_batch_size: int
    auxiliary_weight: float = 0.4
    label_smoothing: float = 0.0
    weight_decay: float = 3e-4
    grad_clip_norm: float = 5.0

    def __post_init__(self):
        for name, low, closed in (
            ("global_batch_size", 0, False),
            ("grad_clip_norm", 0, False),
            ("auxiliary_weight", 0, True),
            ("weight_decay", 0, True),
            ("label_smoothing", 0, True),
        ):
            value = getattr(self, name)
            if value < low or (value == low and not closed):
                expected = f">= {low}" if closed else f"> {low}"
                raise ValueError(
                    f"Invalid value received for argument `{name}`. Expected {expected}. "
                    f"Received: {name}={value}"
                )
        if self.label_smoothing >= 1:
            raise ValueError(
                "Invalid value received for argument `label_smoothing`. Expected a value in "
                f"[0, 1). Received: label_smoothing={self.label_smoothing}"
            )


def smoothed_cross_entropy(labels, logits, label_smoothing):
    """Per-example cross-entropy against one-hot targets smoothed towards uniform.

    Targets are (1 - eps) one_hot + eps / K (Szegedy et al. 2016), as PyTorch's
    `CrossEntropyLoss(label_smoothing=eps)`.

    Args:
      labels: int [B].
      logits: float [B, K].
      label_smoothing: eps in [0, 1).

    Returns:
      float [B].
    """
    num_classes = logits.shape[-1]
    targets = tf.one_hot(labels, num_classes, dtype=logits.dtype)
    targets = targets * (1.0 - label_smoothing) + label_smoothing / num_classes
    return -tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=-1)


class RetrainTrainer(tf.Module):
    """Runs retraining steps of an evaluation network.

    Args:
      model: maps images to {"logits"[, "aux_logits"]} (`eval_networks.build`).
      optimizer: a built Keras optimizer of `model.trainable_weights`.
      settings: `TrainSettings`.
      strategy: the `tf.distribute` strategy the modules were built under.
    """

    def __init__(self, model, optimizer, settings, strategy=None):
        super().__init__(name="retrain_trainer")
        self.model = model
        self.optimizer = optimizer
        self.settings = settings
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    def loss(self, batch, training=True):
        """Per-example loss: smoothed cross-entropy, plus the weighted auxiliary one.

        Returns:
          (per-example loss [B], logits [B, K]).
        """
        outputs = self.model(batch["image"], training=training)
        smoothing = self.settings.label_smoothing
        per_example = smoothed_cross_entropy(batch["label"], outputs["logits"], smoothing)
        if "aux_logits" in outputs and self.settings.auxiliary_weight:
            aux = smoothed_cross_entropy(batch["label"], outputs["aux_logits"], smoothing)
            per_example += self.settings.auxiliary_weight * aux
        return per_example, outputs["logits"]

    def replica_step(self, batch):
        """One replica's step on its part of the global batch.

        The gradients of the replicas are summed here rather than in the optimizer, because
        clipping needs the norm of the whole batch's gradient; each replica then hands the
        optimizer 1 / replicas of the (identical) update, which the optimizer sums back.

        Args:
          batch: {"image": [B, S, S, 3], "label": [B]}, this replica's examples.

        Returns:
          A dict of scalar metrics for this replica.
        """
        context = tf.distribute.get_replica_context()
        weights = self.model.trainable_weights
        with tf.GradientTape() as tape:
            per_example, logits = self.loss(batch)
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=self.settings.global_batch_size
            )
        # A cell may leave an input unread (searches find such cells): the weights that
        # preprocess it get no gradient. They take zero here and then only decay, which
        # changes nothing the network computes (PyTorch's SGD skips them).
        gradients = [
            tf.zeros(weight.shape, weight.dtype) if gradient is None else gradient
            for gradient, weight in zip(tape.gradient(loss, weights), weights, strict=True)
        ]
        gradients, norm = strategies.clipped_sum(gradients, self.settings.grad_clip_norm)
        replicas = context.num_replicas_in_sync
        gradients = [
            (gradient + self.settings.weight_decay * weight) / replicas
            for gradient, weight in zip(gradients, weights, strict=True)
        ]
        self.optimizer.apply(gradients, weights)
        return {
            "train_loss": tf.reduce_mean(per_example),
            "train_accuracy": objectives.accuracy(batch["label"], logits),
            "grad_norm": norm,
        }

    def train_step(self, batch):
        """Runs `replica_step` on every replica (cross-replica context); returns mean metrics.

        Args:
          batch: the global batch, {"image": [B, ...], "label": [B]}. Each replica takes its
            share, so the input pipeline and its checkpointable iterator stay undistributed
            (distributed iterators cannot be saved in a `tf.train.Checkpoint`).
        """
        if self.settings.global_batch_size % self.strategy.num_replicas_in_sync:
            replicas = self.strategy.num_replicas_in_sync
            raise ValueError(
                f"config.batch_size: expected a multiple of the {replicas} replicas, "
                f"got {self.settings.global_batch_size}"
            )
        per_replica = self.strategy.run(
            self.replica_step, args=(strategies.split_global_batch(self.strategy, batch),)
        )
        self.step.assign_add(1)
        return {
            name: self.strategy.reduce("MEAN", value, axis=None)
            for name, value in per_replica.items()
        }
