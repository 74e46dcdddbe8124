"""The UNAS search step: one architecture update, then one weight update (UNAS Sec. 3.2).

`SearchTrainer.replica_step` is the work of one replica on one step; `train_step` runs it
through `strategy.run`, so the same code serves one CPU, one GPU or many. Losses are averaged
over the *global* batch, because optimizers sum the gradients of the replicas.
`search_run.SearchTask` builds the modules and drives the steps.

Weight decay is an L2 term added to the gradient before the optimizer sees it, as PyTorch's
`Adam(weight_decay=...)` in the released UNAS code does (grad += wd * param, then the Adam
moments), not Keras's decoupled `weight_decay`, which would shrink the parameters by
lr * wd per step: 3e-4 on w and 1e-6 on phi (UNAS App. A.3) would then do next to nothing.
"""

import dataclasses

import tensorflow as tf

from unas_tf import distributions, objectives, strategies

OBJECTIVES = ("train", "val", "gen")
SAMPLING = ("per_example", "per_batch")
WEIGHT_SAMPLES = ("relaxed", "discrete")


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """What the step needs to know beyond its modules.

    Attributes:
      objective: architecture objective: "train" (L_train, SNAS), "val" (L_val, DARTS) or
        "gen" (L_gen of UNAS Eq. 8).
      gap_weight: lambda of Eq. 8.
      gap_form: how a batch estimates Eq. 8's gap: "per_pair" (the released code's, per
        train/val example pair) or "batch" (of the batch means); see
        `objectives.generalization_loss`.
      arch_penalty_weight: lambda_arch of App. A.2.
      sampling: "per_example" (one architecture per example) or "per_batch" (one per step).
      weight_sample: the architecture sample w trains on: "relaxed" (a Gumbel-softmax zeta) or
        "discrete" (a one-hot z ~ p_phi, UNAS Eq. 7); see `SearchTrainer.weight_gradients`.
      temperature: Gumbel-softmax temperature of the relaxed samples.
      grad_clip_norm: global-norm clipping of the weight gradients.
      global_batch_size: examples per step over all replicas.
      weight_decay: L2 coefficient on w: `weight_decay * w` is added to the weight gradient
        after it is clipped (the released code clips, then its PyTorch Adam adds the term).
      arch_weight_decay: L2 coefficient on phi: `arch_weight_decay * phi` is added to the
        architecture gradient (not clipped, as in the released code).
    """

    objective: str = "gen"
    gap_weight: float = objectives.DEFAULT_GAP_WEIGHT
    gap_form: str = objectives.DEFAULT_GAP_FORM
    arch_penalty_weight: float = objectives.DEFAULT_ARCH_PENALTY_WEIGHT
    sampling: str = "per_example"
    weight_sample: str = "relaxed"
    temperature: float = distributions.DEFAULT_TEMPERATURE
    grad_clip_norm: float = 5.0
    global_batch_size: int = 64
    weight_decay: float = 0.0
    arch_weight_decay: float = 0.0

    def __post_init__(self):
        for name, value, known in (
            ("objective", self.objective, OBJECTIVES),
            ("sampling", self.sampling, SAMPLING),
            ("weight_sample", self.weight_sample, WEIGHT_SAMPLES),
            ("gap_form", self.gap_form, objectives.GAP_FORMS),
        ):
            if value not in known:
                raise ValueError(
                    f"Invalid value received for argument `{name}`. Expected one of {known}. "
                    f"Received: {name}={value!r}"
                )
        for name in ("gap_weight", "arch_penalty_weight", "weight_decay", "arch_weight_decay"):
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
      supernet: maps (images, sample, training) to logits (a space's supernet, e.g. the DARTS
        space's `search_spaces.darts.supernet.Supernet`).
      distribution: the `ArchitectureDistribution` whose logits phi are searched.
      estimator: a `GradientEstimator`; one whose `updates_architecture` is False (the
        random-architecture baseline) leaves phi where it is: weights train on uniformly random
        architectures.
      weight_optimizer: Keras optimizer of the supernet's weights w.
      arch_optimizer: Keras optimizer of phi.
      settings: `SearchSettings`.
      seed: int; with the step counter and the replica id it seeds every sample, so that a
        resumed search draws the samples an uninterrupted one would.
      strategy: the `tf.distribute` strategy the modules were built under.
      latency_objective: optional `latency.objective.LatencyObjective`; then architecture steps
        take a `latency` argument and add its term (UNAS App. E.1).
      architecture_penalty: optional `(samples, weight) -> [S] or None`, the space's penalty
        (`SearchSpace.architecture_penalty`), weighted by `settings.arch_penalty_weight`.
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
        latency_objective=None,
        architecture_penalty=None,
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
        self.latency_objective = latency_objective
        self.architecture_penalty = architecture_penalty
        with self.strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    # Each forward is traced once and reused by every evaluation of the step (six for REBAR
    # on L_gen, one for the weights), which keeps the trace short. The dense one is inlined
    # into the step, so TensorFlow optimises the step as one graph: it prunes what the backward
    # passes do not need and overlaps independent forwards: faster steps than as a function
    # call, for a slightly longer first call (bench/search_step.py; figures in bench/README.md).
    # The shared one-hot forward, a large graph of switches, stays a function call; only the
    # weight step of weight_sample="discrete" differentiates it.
    @tf.function(experimental_attributes={"_noinline": True})
    def _shared_one_hot_forward(self, images, sample):
        return self.supernet(images, sample, training=True, skip_inactive=True, one_hot=True)

    @tf.function
    def _dense_forward(self, images, sample):
        return self.supernet(images, sample, training=True, skip_inactive=False)

    def _forward(self, images, sample, one_hot):
        """Runs the supernet the cheapest way for the sample.

        A one-hot sample shared by the batch runs its selected ops alone. Per-example samples
        run densely, one-hot or not: with a dozen examples some example selects nearly every
        op of a node, so skipping would save nothing and its conds would cost graph and time
        (bench/search_step.py), and the step then traces one forward instead of two.
        """
        shared = next(iter(sample.values())).shape[0] == 1
        if one_hot and shared:
            return self._shared_one_hot_forward(images, sample)
        return self._dense_forward(images, sample)

    def _step_seeds(self, replica_id):
        """Three stateless seeds for this step and replica: arch, weights and spare."""
        seed = tf.random.experimental.stateless_fold_in([self.seed, 0], self.step)
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64))
        return tf.unstack(tf.random.experimental.stateless_split(seed, 3))

    def _global_mean(self, per_example):
        return tf.nn.compute_average_loss(
            per_example, global_batch_size=self.settings.global_batch_size
        )

    def logits(self):
        """The distribution's logits as a plain dict (tf.function arguments): phi, softened and
        masked (`ArchitectureDistribution.sampling_logits`)."""
        return self.distribution.sampling_logits()

    def latency_logits(self):
        """The masked logits of the step's one latency architecture: [1, ..., K] leaves."""
        return {key: value[None] for key, value in self.logits().items()}

    def _num_samples(self, batch_size):
        return batch_size if self.settings.sampling == "per_example" else 1

    def _sampled_logits(self, num_samples):
        """The logits broadcast to one row per sample; gradients flow back to phi."""
        return {
            key: tf.broadcast_to(logits, [num_samples, *logits.shape])
            for key, logits in self.logits().items()
        }

    def _per_sample(self, per_example, num_samples):
        """Per-example values -> per-sample: themselves, or the batch mean for a shared sample."""
        if num_samples == 1:
            return tf.reduce_mean(per_example, keepdims=True)
        return per_example

    def architecture_loss_fn(self, train, val, one_hot, record=None):
        """Returns the loss of each architecture sample on this step's batches.

        The per-sample losses the estimators need: L_train, L_val or L_gen = L_train +
        lambda |L_val - L_train| (Eq. 8, its gap in `settings.gap_form`), plus the
        architecture penalty (App. A.2).
        `one_hot` says which samples it gets: one-hot ones, never differentiated, or relaxed
        ones, which are (see `_forward`). `record`, a dict, receives the
        batch means of the objective's terms and the accuracies of the sampled architectures.
        """
        settings = self.settings
        num_samples = self._num_samples(train["image"].shape[0])

        def evaluate(batch, sample, split):
            logits = self._forward(batch["image"], sample, one_hot)
            if record is not None:
                record[f"{split}_accuracy"] = objectives.accuracy(batch["label"], logits)
            return objectives.task_loss(batch["label"], logits)

        def loss(sample):
            terms = {}
            if settings.objective in ("train", "gen"):
                terms["train"] = evaluate(train, sample, "train")
            if settings.objective in ("val", "gen"):
                terms["val"] = evaluate(val, sample, "val")
            if settings.objective == "gen":
                task = objectives.generalization_loss(
                    terms["train"], terms["val"], settings.gap_weight, settings.gap_form
                )
            else:
                task = terms[settings.objective]
            penalty = None
            if self.architecture_penalty is not None:
                penalty = self.architecture_penalty(sample, settings.arch_penalty_weight)
            if penalty is None:
                penalty = tf.zeros([num_samples])
            if record is not None:
                record.update({f"{split}_loss": tf.reduce_mean(t) for split, t in terms.items()})
                record["penalty"] = tf.reduce_mean(penalty)
            return self._per_sample(task, num_samples) + penalty

        return loss

    def architecture_gradients(self, train, val, replica_id, latency=None):
        """One replica's share of the phi gradient, and what it measured on the way.

        Args:
          train: this replica's search-train batch {"image", "label"}.
          val: this replica's search-val batch, the same size.
          replica_id: the replica whose architecture samples to draw.
          latency: None, or the step's latency term (needs `latency_objective`): a dict of
            "seed" (the [2] seed the loop drew the architecture with), "indices" (its choices,
            [...] int32, checked against the redrawn sample), "latency_ms" (its measured
            latency) and "weight" (lambda_lat of this step). Every replica adds the same term,
            divided by the replica count, since optimizers sum the replicas' gradients.

        Returns:
          (gradients, measured): gradients of the variables of `distribution.logits` in the
          order of its sorted keys, to be summed over replicas; `measured`, a dict of this
          replica's scalars: "loss" (mean measured loss), the objective's terms and the
          sampled architectures' accuracies (prefixed "sampled/"), and, for one sample per
          example, "variance": an estimate of the total variance of this replica's gradient;
          with a latency term, "latency/loss" (lambda_lat times the measured hinge) and
          "latency/surrogate_ms" (g of the sampled architecture).
        """
        arch_seed = self._step_seeds(replica_id)[0]
        num_samples = self._num_samples(train["image"].shape[0])
        record, latency_record = {}, {}
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            # Per-sample copies of phi: their gradients are the per-sample contributions,
            # whose spread estimates the variance at the price of one backward pass.
            sampled = self._sampled_logits(num_samples)
            tape.watch(sampled)
            output = self.estimator.surrogate_loss(
                sampled,
                self.architecture_loss_fn(train, val, one_hot=True, record=record),
                arch_seed,
                relaxed_loss_fn=self.architecture_loss_fn(train, val, one_hot=False),
            )
            surrogate = tf.nn.compute_average_loss(
                output.surrogate,
                global_batch_size=self.settings.global_batch_size
                * num_samples
                // train["image"].shape[0],
            )
            if latency is not None:
                # phi itself in value; the mean over the per-sample copies spreads the latency
                # gradient evenly over them, leaving the variance estimate of L_gen unchanged.
                shared = {
                    key: tf.reduce_mean(value, 0, keepdims=True) for key, value in sampled.items()
                }
                term = self._latency_term(shared, latency, latency_record)
                context = tf.distribute.get_replica_context()
                surrogate += term / context.num_replicas_in_sync
        per_sample = tape.gradient(surrogate, sampled)
        keys = sorted(per_sample)
        measured = {"loss": tf.reduce_mean(output.loss)}
        measured.update({f"sampled/{name}": value for name, value in record.items()})
        measured.update(latency_record)
        if num_samples > 1:
            measured["variance"] = tf.add_n(
                [total_variance_of_sum(per_sample[key]) for key in keys]
            )
        return [tf.reduce_sum(per_sample[key], axis=0) for key in keys], measured

    def _latency_term(self, logits, latency, record):
        """lambda_lat times the surrogate of max(0, L_lat(z) - target); fills `record`."""
        objective = self.latency_objective
        output = objective.surrogate_loss(logits, latency["seed"], latency["latency_ms"])
        # The architecture whose measured latency is L(z) must be the one the gradient uses.
        for key, indices in latency["indices"].items():
            drawn = tf.argmax(output.sample[key][0], axis=-1, output_type=tf.int32)
            tf.debugging.assert_equal(
                drawn, indices, message=f"the step redrew another latency architecture ({key})"
            )
        hinge = tf.reduce_mean(output.loss)
        objective.update(hinge)
        record["latency/loss"] = latency["weight"] * hinge
        record["latency/surrogate_ms"] = tf.reduce_mean(objective.surrogate(output.sample))
        return latency["weight"] * tf.reduce_sum(output.surrogate)

    def weight_step_sample(self, replica_id, num_samples):
        """The sample w trains on this step: `num_samples` rows drawn with its weight seed.

        Relaxed or one-hot as `settings.weight_sample` says (see `weight_gradients`).
        """
        weight_seed = self._step_seeds(replica_id)[1]
        if self.settings.weight_sample == "discrete":
            return distributions.sample_discrete(
                self.logits(), weight_seed, sample_shape=[num_samples]
            )
        return distributions.sample_relaxed(
            self.logits(), self.settings.temperature, weight_seed, sample_shape=[num_samples]
        )

    def weight_gradients(self, train, replica_id):
        """One replica's share of the weight gradient (UNAS Eq. 7), on a sample drawn here.

        Eq. 7 trains w on architectures z ~ p_phi. `settings.weight_sample` picks the sample,
        drawn with the step's weight seed:
        - "relaxed" (the default): a Gumbel-softmax zeta at `settings.temperature`, run densely,
          so every op trains, weighted by its share of zeta.
        - "discrete": a one-hot z ~ p_phi, as Eq. 7 has it; only the selected ops get
          gradients. The others get zeros, not None: replicas drawing different architectures
          then sum gradients of one structure, and Adam's moments and the L2 term still move
          the others (PyTorch's Adam would skip a None gradient). A sample shared by the batch
          ("per_batch") runs its selected ops alone, through the shared one-hot forward that
          the architecture step's one-hot losses use: one trace serves both. The backward
          graph of its switches is large: the first step takes about twice as long to build,
          steady steps about as long or less (bench/README.md). Per-example samples run the
          dense forward with one-hot weights (see `_forward`).

        The released code instead trains w on the relaxed zeta of the architecture step, reused.
        Here the sample is the weight step's own, independent of the architecture step's: the
        weight step then runs the same with every estimator (REINFORCE and the random baseline
        draw no zeta) and in the warm-up, which has no architecture step.

        Returns:
          (gradients of `supernet.trainable_weights`, zeros for weights the sample does not use,
          to be summed over replicas; the per-example losses; the logits).
        """
        sample = self.weight_step_sample(replica_id, self._num_samples(train["image"].shape[0]))
        weights = self.supernet.trainable_weights
        with tf.GradientTape() as tape:
            logits_out = self._forward(
                train["image"], sample, one_hot=self.settings.weight_sample == "discrete"
            )
            per_example = objectives.task_loss(train["label"], logits_out)
            loss = self._global_mean(per_example)
        # The switches and conds that skip a one-hot sample's other ops already return zeros
        # for their weights; ZERO keeps it so should a forward not touch a weight at all, as
        # clipping, the replicas' sum and the optimizer need a gradient for every weight.
        gradients = tape.gradient(loss, weights, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return gradients, per_example, logits_out

    def replica_step(self, train, val, update_architecture, latency=None):
        """One replica's step: the architecture update (unless warming up), then the weights.

        Args:
          train: this replica's search-train batch {"image", "label"}.
          val: this replica's search-val batch, the same size.
          update_architecture: Python bool; False during the weights-only warm-up.
          latency: None or the step's latency term (see `architecture_gradients`).

        Returns:
          A dict of scalar metrics; "arch_grad_variance" is already summed over replicas;
          "arch_grad_norm" is the norm of the estimated gradient, without the L2 term.
        """
        context = tf.distribute.get_replica_context()
        replica_id = context.replica_id_in_sync_group
        metrics = {}
        replicas = context.num_replicas_in_sync
        if update_architecture and self.estimator.updates_architecture:
            gradients, measured = self.architecture_gradients(train, val, replica_id, latency)
            variables = [self.distribution.logits[key] for key in sorted(self.distribution.logits)]
            # The optimizer sums the replicas' gradients: each adds its share of the L2 term.
            decay = self.settings.arch_weight_decay / replicas
            self.arch_optimizer.apply(
                [g + decay * v for g, v in zip(gradients, variables, strict=True)], variables
            )
            mean_loss = context.all_reduce("MEAN", measured.pop("loss"))
            self.estimator.update(mean_loss)
            metrics["arch_loss"] = mean_loss
            if "variance" in measured:
                # Replicas draw independent samples: the variance of the summed gradient is
                # the sum of theirs.
                metrics["arch_grad_variance"] = context.all_reduce("SUM", measured.pop("variance"))
            total = context.all_reduce("SUM", gradients)
            metrics["arch_grad_norm"] = tf.linalg.global_norm(total)
            metrics.update(measured)

        gradients, per_example, logits_out = self.weight_gradients(train, replica_id)
        weights = self.supernet.trainable_weights
        clipped, _ = strategies.clipped_sum(gradients, self.settings.grad_clip_norm)
        decay = self.settings.weight_decay
        self.weight_optimizer.apply(
            [(g + decay * w) / replicas for g, w in zip(clipped, weights, strict=True)], weights
        )
        metrics["train_loss"] = tf.reduce_mean(per_example)
        metrics["train_accuracy"] = objectives.accuracy(train["label"], logits_out)
        return metrics

    def step_function(self, update_architecture):
        """`train_step` for one value of `update_architecture`, as a `tf.function`.

        The function takes (train, val), and the step's latency term as a third argument in a
        latency-aware search (see `train_step`). It is traced without AutoGraph: the step's
        branches and loops run over Python values, so converting its code would only lengthen
        the trace (by about a quarter at the bench size; bench/README.md).
        """
        return tf.function(
            lambda train, val, *latency: self.train_step(train, val, update_architecture, *latency),
            autograph=False,
        )

    def evaluate_step(self, batch):
        """Loss and accuracy of the argmax architecture on a global batch (cross-replica).

        Batch-norm statistics come from the batch, as everywhere in the search.
        """

        def replica_evaluate(part):
            num_samples = self._num_samples(part["image"].shape[0])
            # The argmax one-hot, one copy per sample: the signature the step's forward was
            # traced with, so evaluation reuses that trace.
            mode = {
                key: tf.broadcast_to(
                    tf.one_hot(index, logits.shape[-1]), [num_samples, *logits.shape]
                )
                for (key, logits), index in zip(
                    self.distribution.logits.items(),
                    distributions.mode(self.logits()).values(),
                    strict=True,
                )
            }
            logits = self._forward(part["image"], mode, one_hot=True)
            return {
                "loss": tf.reduce_mean(objectives.task_loss(part["label"], logits)),
                "accuracy": objectives.accuracy(part["label"], logits),
            }

        per_replica = self.strategy.run(
            replica_evaluate, args=(strategies.split_global_batch(self.strategy, batch),)
        )
        return {
            name: self.strategy.reduce("MEAN", value, axis=None)
            for name, value in per_replica.items()
        }

    def train_step(self, train, val, update_architecture, latency=None):
        """Runs `replica_step` on every replica (cross-replica context); returns mean metrics.

        Args:
          train: the global search-train batch {"image", "label"}; each replica takes its slice.
          val: the global search-val batch, the same size.
          update_architecture: Python bool; False during the weights-only warm-up.
          latency: None or the step's latency term, the same for every replica (see
            `architecture_gradients`).
        """
        kwargs = {"update_architecture": update_architecture}
        if latency is not None:
            kwargs["latency"] = latency
        per_replica = self.strategy.run(
            self.replica_step,
            args=(
                strategies.split_global_batch(self.strategy, train),
                strategies.split_global_batch(self.strategy, val),
            ),
            kwargs=kwargs,
        )
        self.step.assign_add(1)
        return {
            name: self.strategy.reduce("MEAN", value, axis=None)
            for name, value in per_replica.items()
        }


def total_variance_of_sum(contributions):
    """Estimates tr Cov(sum_s G_s) from S >= 2 i.i.d. contributions G_s, stacked [S, ...].

    S times the unbiased per-contribution variance: how much the step's gradient estimate
    would move between draws of its samples.
    """
    count = tf.cast(tf.shape(contributions)[0], contributions.dtype)
    deviations = contributions - tf.reduce_mean(contributions, axis=0)
    return tf.reduce_sum(tf.square(deviations)) * count / (count - 1.0)
