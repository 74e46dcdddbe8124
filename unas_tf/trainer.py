"""The UNAS search step: one architecture update, then one weight update (UNAS Sec. 3.2).

`SearchTrainer.replica_step` is the work of one replica on one step; `train_step` runs it
through `strategy.run`, so the same code serves one CPU, one GPU or many. Losses are averaged
over the *global* batch, because optimizers sum the gradients of the replicas.
"""

import dataclasses

import tensorflow as tf

from unas_tf import distributions, objectives

OBJECTIVES = ("train", "val", "gen")
SAMPLING = ("per_example", "per_batch")


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """What the step needs to know beyond its modules.

    Attributes:
      objective: architecture objective: "train" (L_train, SNAS), "val" (L_val, DARTS) or
        "gen" (L_gen of UNAS Eq. 8).
      gap_weight: lambda of Eq. 8.
      arch_penalty_weight: lambda_arch of App. A.2.
      sampling: "per_example" (one architecture per example) or "per_batch" (one per step).
      temperature: Gumbel-softmax temperature of the relaxed samples.
      grad_clip_norm: global-norm clipping of the weight gradients.
      global_batch_size: examples per step over all replicas.
    """

    objective: str = "gen"
    gap_weight: float = objectives.DEFAULT_GAP_WEIGHT
    arch_penalty_weight: float = objectives.DEFAULT_ARCH_PENALTY_WEIGHT
    sampling: str = "per_example"
    temperature: float = distributions.DEFAULT_TEMPERATURE
    grad_clip_norm: float = 5.0
    global_batch_size: int = 64

    def __post_init__(self):
        for name, value, known in (
            ("objective", self.objective, OBJECTIVES),
            ("sampling", self.sampling, SAMPLING),
        ):
            if value not in known:
                raise ValueError(
                    f"Invalid value received for argument `{name}`. Expected one of {known}. "
                    f"Received: {name}={value!r}"
                )
        for name in ("gap_weight", "arch_penalty_weight"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"Invalid value received for argument `{name}`. Expected >= 0. "
                    f"Received: {name}={getattr(self, name)}"
                )
        for name in ("temperature", "grad_clip_norm", "global_batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"Invalid value received for argument `{name}`. Expected > 0. "
                    f"Received: {name}={getattr(self, name)}"
                )


class SearchTrainer(tf.Module):
    """Runs UNAS search steps on a supernet and an architecture distribution.

    Args:
      supernet: maps (images, sample, training) to logits (`darts_supernet.Supernet`).
      distribution: the `ArchitectureDistribution` whose logits phi are searched.
      estimator: a `GradientEstimator`, or None for the random-architecture baseline (weights
        train on uniformly random architectures; phi never moves).
      weight_optimizer: Keras optimizer of the supernet's weights w.
      arch_optimizer: Keras optimizer of phi.
      settings: `SearchSettings`.
      seed: int; with the step counter and the replica id it seeds every sample, so that a
        resumed search draws the samples an uninterrupted one would.
      strategy: the `tf.distribute` strategy the modules were built under.
    """

    def __init__(
        self,
        supernet,
        distribution,
        estimator,
        weight_optimizer,
        arch_optimizer,
        settings,
        seed,
        strategy=None,
    ):
        super().__init__(name="search_trainer")
        self.supernet = supernet
        self.distribution = distribution
        self.estimator = estimator
        self.weight_optimizer = weight_optimizer
        self.arch_optimizer = arch_optimizer
        self.settings = settings
        self.seed = seed
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    # One traced forward per mode, called by every evaluation of the step (four for REBAR on
    # L_gen, one for the weights): tracing and optimising the supernet once per mode instead
    # of once per call is what keeps the first step's start-up short.
    @tf.function(experimental_attributes={"_noinline": True})
    def _skipping_forward(self, images, sample):
        return self.supernet(images, sample, training=True, skip_inactive=True)

    @tf.function(experimental_attributes={"_noinline": True})
    def _dense_forward(self, images, sample):
        return self.supernet(images, sample, training=True, skip_inactive=False)

    def _forward(self, images, sample, skip_inactive):
        if skip_inactive:
            return self._skipping_forward(images, sample)
        return self._dense_forward(images, sample)

    def _step_seeds(self):
        """Three stateless seeds for this step and replica: arch, weights and spare."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seed = tf.random.experimental.stateless_fold_in([self.seed, 0], self.step)
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(replica, tf.int64))
        return tf.unstack(tf.random.experimental.stateless_split(seed, 3))

    def _global_mean(self, per_example):
        return tf.nn.compute_average_loss(
            per_example, global_batch_size=self.settings.global_batch_size
        )

    def _num_samples(self, batch_size):
        return batch_size if self.settings.sampling == "per_example" else 1

    def _sampled_logits(self, num_samples):
        """The logits broadcast to one row per sample; gradients flow back to phi."""
        return {
            key: tf.broadcast_to(logits, [num_samples, *logits.shape])
            for key, logits in self.distribution.logits.items()
        }

    def _per_sample(self, per_example, num_samples):
        """Per-example values -> per-sample: themselves, or the batch mean for a shared sample."""
        if num_samples == 1:
            return tf.reduce_mean(per_example, keepdims=True)
        return per_example

    def architecture_loss_fn(self, train, val, skip_inactive):
        """Returns the loss of each architecture sample on this step's batches.

        The per-sample losses the estimators need: L_train, L_val or L_gen = L_train +
        lambda |L_val - L_train| (Eq. 8), plus the architecture penalty (App. A.2).
        `skip_inactive` is passed to the supernet: True for one-hot samples, which are never
        differentiated, False for relaxed ones, which are.
        """
        settings = self.settings
        num_samples = self._num_samples(train["image"].shape[0])

        def loss(sample):
            terms = {}
            if settings.objective in ("train", "gen"):
                logits = self._forward(train["image"], sample, skip_inactive)
                terms["train"] = objectives.task_loss(train["label"], logits)
            if settings.objective in ("val", "gen"):
                logits = self._forward(val["image"], sample, skip_inactive)
                terms["val"] = objectives.task_loss(val["label"], logits)
            if settings.objective == "gen":
                task = objectives.generalization_loss(
                    terms["train"], terms["val"], settings.gap_weight
                )
            else:
                task = terms[settings.objective]
            penalty = objectives.architecture_penalty(sample, settings.arch_penalty_weight)
            return self._per_sample(task, num_samples) + penalty

        return loss

    def replica_step(self, train, val, update_architecture):
        """One replica's step: the architecture update (unless warming up), then the weights.

        Args:
          train: this replica's search-train batch {"image", "label"}.
          val: this replica's search-val batch, the same size.
          update_architecture: Python bool; False during the weights-only warm-up.

        Returns:
          A dict of scalar metrics for this replica.
        """
        arch_seed, weight_seed, _ = self._step_seeds()
        batch_size = train["image"].shape[0]
        num_samples = self._num_samples(batch_size)
        metrics = {}
        if update_architecture and self.estimator is not None:
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(self.distribution.trainable_variables)
                output = self.estimator.surrogate_loss(
                    self._sampled_logits(num_samples),
                    self.architecture_loss_fn(train, val, skip_inactive=True),
                    arch_seed,
                    relaxed_loss_fn=self.architecture_loss_fn(train, val, skip_inactive=False),
                )
                surrogate = tf.nn.compute_average_loss(
                    output.surrogate,
                    global_batch_size=self.settings.global_batch_size * num_samples // batch_size,
                )
            variables = self.distribution.trainable_variables
            self.arch_optimizer.apply(tape.gradient(surrogate, variables), variables)
            mean_loss = tf.distribute.get_replica_context().all_reduce(
                "MEAN", tf.reduce_mean(output.loss)
            )
            self.estimator.update(mean_loss)
            metrics["arch_loss"] = mean_loss

        if self.estimator is None:
            logits = {key: tf.zeros_like(value) for key, value in self.distribution.logits.items()}
        else:
            logits = dict(self.distribution.logits)  # a plain dict: tf.function arguments
        relaxed = distributions.sample_relaxed(
            logits, self.settings.temperature, weight_seed, sample_shape=[num_samples]
        )
        weights = self.supernet.trainable_weights
        with tf.GradientTape() as tape:
            logits_out = self._dense_forward(train["image"], relaxed)
            per_example = objectives.task_loss(train["label"], logits_out)
            loss = self._global_mean(per_example)
        gradients = tape.gradient(loss, weights)
        gradients, _ = tf.clip_by_global_norm(gradients, self.settings.grad_clip_norm)
        self.weight_optimizer.apply(gradients, weights)
        predictions = tf.argmax(logits_out, axis=-1, output_type=tf.int32)
        metrics["train_loss"] = tf.reduce_mean(per_example)
        metrics["train_accuracy"] = tf.reduce_mean(
            tf.cast(tf.equal(predictions, train["label"]), tf.float32)
        )
        return metrics

    def train_step(self, train, val, update_architecture):
        """Runs `replica_step` on every replica (cross-replica context); returns mean metrics."""
        per_replica = self.strategy.run(
            self.replica_step,
            args=(train, val),
            kwargs={"update_architecture": update_architecture},
        )
        self.step.assign_add(1)
        return {
            name: self.strategy.reduce("MEAN", value, axis=None)
            for name, value in per_replica.items()
        }
