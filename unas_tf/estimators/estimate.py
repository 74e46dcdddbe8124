"""Choosing an estimator by name, and per-sample gradient estimates for users and tests."""

import tensorflow as tf

from unas_tf import distributions
from unas_tf.estimators import gumbel_softmax, random_architectures, rebar, reinforce, relax

_REGISTRY = {
    cls.name: cls
    for cls in (
        reinforce.Reinforce,
        gumbel_softmax.GumbelSoftmax,
        rebar.Rebar,
        relax.Relax,
        random_architectures.RandomArchitectures,
    )
}


def known_names():
    """Returns the names `create` accepts."""
    return sorted(_REGISTRY)


def create(name, **kwargs):
    """Builds the estimator registered under `name` with its constructor arguments.

    Raises:
      ValueError: `name` is not a known estimator.
    """
    return _lookup(name)(**kwargs)


def create_for_search(config):
    """The estimator of a search config: `config.estimator` built with `config.temperature`,
    the class's `search_defaults` and the config keys it reads (`search_keys`).

    Raises:
      ValueError: `config.estimator` is not a known estimator.
    """
    cls = _lookup(config.estimator)
    read = {argument: config[key] for key, argument in cls.search_keys.items()}
    return cls(temperature=config.temperature, **cls.search_defaults, **read)


def _lookup(name):
    if name not in _REGISTRY:
        raise ValueError(
            f"Invalid value received for argument `estimator`. Expected one of {known_names()}. "
            f"Received: estimator={name!r}"
        )
    return _REGISTRY[name]


def _checked(fn, argument, num_samples, dtype):
    """Wraps a loss so a wrong output shape is reported against the argument that produced it."""

    def call(samples):
        losses = tf.convert_to_tensor(fn(samples))
        shape = losses.shape
        if shape.rank is not None and (shape.rank != 1 or shape[0] not in (None, num_samples)):
            raise ValueError(
                f"Invalid value returned by `{argument}`. Expected losses of shape "
                f"[num_samples] = [{num_samples}]. Received: shape {shape.as_list()}"
            )
        return tf.cast(losses, dtype)

    return call


def estimate_gradient(
    estimator,
    logits,
    loss_fn,
    *,
    num_samples,
    temperature=distributions.DEFAULT_TEMPERATURE,
    control_variate=None,
    baseline=0.0,
    seed=None,
):
    """Returns `num_samples` independent single-sample estimates of d/dlogits E_{p(z)}[loss(z)].

    All samples run as one batched computation: the logits are tiled along a sample axis and
    each row's surrogate loss depends on that row only, so one gradient call yields every row.
    Works eagerly, inside `tf.function`, and in a replica context of a `tf.distribute` strategy.

    Args:
      estimator: one of `known_names()`: "reinforce", "gumbel_softmax", "rebar", "relax", or
        "random" (the baseline that never moves phi: zero estimates).
      logits: [..., K] logits of independent categoricals.
      loss_fn: maps samples [num_samples, ..., K] to losses [num_samples]. It receives one-hot
        samples, except for gumbel_softmax and for the relaxed evaluation of rebar, which need
        a loss differentiable in relaxed samples. For reinforce and relax it is never
        differentiated and may compute with NumPy when run eagerly.
      num_samples: number of estimates S.
      temperature: relaxation temperature (gumbel_softmax, rebar, relax).
      control_variate: relax's differentiable surrogate g of the loss, same signature as
        `loss_fn`, called on relaxed samples. Used by relax only.
      baseline: reinforce's constant b. Used by reinforce only.
      seed: stateless seed (shape-[2] integer tensor or int); None draws a fresh one.

    Returns:
      A [num_samples, ..., K] tensor whose row s is the estimate from sample s.

    Raises:
      ValueError: an unknown estimator, logits without a choice axis, num_samples < 1, a loss
        or control variate returning the wrong shape, relax without a control variate.
    """
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        logits = tf.cast(logits, tf.float32)
    if logits.shape.rank is None or logits.shape.rank < 1 or logits.shape[-1] == 0:
        raise ValueError(
            "Invalid value received for argument `logits`. Expected a tensor of shape [..., K] "
            f"with a non-empty last (choice) axis. Received: shape {logits.shape}"
        )
    if num_samples < 1:
        raise ValueError(
            "Invalid value received for argument `num_samples`. Expected >= 1. "
            f"Received: num_samples={num_samples}"
        )
    kwargs = {"temperature": temperature}
    if estimator == reinforce.Reinforce.name:
        kwargs["baseline"] = baseline
    elif estimator == relax.Relax.name:
        kwargs["control_variate"] = control_variate and _checked(
            control_variate, "control_variate", num_samples, logits.dtype
        )
    impl = create(estimator, **kwargs)

    tiled = tf.tile(logits[None], [num_samples] + [1] * logits.shape.rank)
    with tf.GradientTape() as tape:
        tape.watch(tiled)
        output = impl.surrogate_loss(
            tiled, _checked(loss_fn, "loss_fn", num_samples, logits.dtype), seed
        )
        total = tf.reduce_sum(output.surrogate)
    return tape.gradient(total, tiled, unconnected_gradients=tf.UnconnectedGradients.ZERO)
