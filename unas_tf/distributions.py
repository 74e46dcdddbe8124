"""Architecture distributions: independent categoricals over one-hot architecture choices.

An architecture is a set of selectors (which op, which input, which block), each a categorical
over its K choices. Logits are a nest (one tensor, or a dict / list of tensors) whose leaves have
shape [..., K]; selectors with different numbers of choices live in different leaves, so no
choice is ever masked. Samples mirror the nest with a leading sample axis: [S, ..., K].

Sampling functions take stateless seeds (shape-[2] integer tensors, an int, or None for a fresh
one) so that a step is reproducible given its seed, eagerly and inside `tf.function`.
"""

from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

DEFAULT_TEMPERATURE = 0.4
# How far below a selector's largest valid logit `masked_logits` puts its invalid choices. The
# float32 Gumbel noise of `sample_coupled` lies in [-4.5, 16.7], and a valid choice has
# log-probability >= -log K, so a gap above ~23 + log K keeps them from ever being drawn; a gap
# far larger would make their probability underflow to 0, and the conditional relaxation
# divides by it (NaN gradients).
MASKED_LOGIT_GAP = 30.0


class CoupledSample(NamedTuple):
    """Samples sharing one draw of Gumbel noise, as REBAR and RELAX need.

    Attributes:
      discrete: z = one_hot(argmax(log p + G)), distributed as OneHotCategorical(logits).
      relaxed: zeta = softmax((log p + G) / temperature), distributed as
        RelaxedOneHotCategorical(temperature, logits); its gradient flows through the logits.
      conditional: zeta~ ~ r(zeta | z), the conditional relaxation built from the noise that
        produced z. Its value equals `relaxed`; its gradient is the reparameterisation of
        r(zeta | z) (REBAR, Tucker et al. 2017, Appendix C).
    """

    discrete: Any
    relaxed: Any
    conditional: Any


def stateless_seed(seed=None):
    """Returns a shape-[2] int32 stateless seed.

    Args:
      seed: None for a fresh random seed, a Python int (reproducible: TFP's own conversion of
        ints goes through a stateful op and differs call to call), or a shape-[2] integer tensor.
    """
    if seed is None:
        return tfp.random.sanitize_seed(None)
    if isinstance(seed, int):
        return tf.constant([seed % 2**31, (seed // 2**31) % 2**31], tf.int32)
    return tf.cast(seed, tf.int32)


def _leaf_seeds(seed, structure):
    leaves = tf.nest.flatten(structure)
    seeds = tfp.random.split_seed(stateless_seed(seed), n=len(leaves))
    return tf.nest.pack_sequence_as(structure, list(seeds))


def _map_with_seeds(fn, logits, seed):
    return tf.nest.map_structure(fn, logits, _leaf_seeds(seed, logits))


def _noise_shape(logits, sample_shape):
    return tf.concat([tf.constant(sample_shape, tf.int32), tf.shape(logits)], axis=0)


def _uniform(shape, seed, dtype):
    # Never exactly 0, so both logarithms of the Gumbel transform stay finite.
    tiny = np.finfo(dtype.as_numpy_dtype).tiny
    return tf.random.stateless_uniform(shape, seed, minval=tiny, maxval=1.0, dtype=dtype)


def sample_discrete(logits, seed=None, sample_shape=()):
    """Draws one-hot samples z ~ OneHotCategorical(logits), shape sample_shape + [..., K]."""

    def sample(leaf, leaf_seed):
        dist = tfd.OneHotCategorical(logits=leaf, dtype=leaf.dtype)
        return dist.sample(sample_shape, seed=leaf_seed)

    return _map_with_seeds(sample, logits, seed)


def sample_relaxed(logits, temperature=DEFAULT_TEMPERATURE, seed=None, sample_shape=()):
    """Draws reparameterised zeta ~ RelaxedOneHotCategorical(temperature, logits)."""

    def sample(leaf, leaf_seed):
        dist = tfd.RelaxedOneHotCategorical(temperature, logits=leaf)
        return dist.sample(sample_shape, seed=leaf_seed)

    return _map_with_seeds(sample, logits, seed)


def conditional_relaxed(logits, discrete, exponential_noise, temperature=DEFAULT_TEMPERATURE):
    """Maps noise to zeta~ ~ r(zeta | z): Gumbel perturbations conditioned on their argmax.

    With theta = softmax(logits) and independent E ~ Exponential(1) (E = -log v for v uniform),
    the perturbed logits given argmax b are u_b = -log E_b (the maximum is a standard Gumbel)
    and u_i = -log(E_i / theta_i + E_b) (a Gumbel at log theta_i truncated below u_b), per
    REBAR (Tucker et al. 2017) Appendix C. The noise is held fixed, so gradients reach the
    logits through theta only.

    Args:
      logits: nest of [..., K] logits (or [S, ..., K] per-sample logits).
      discrete: nest of one-hot z, [S, ..., K].
      exponential_noise: nest of Exponential(1) noise shaped like `discrete`.
      temperature: relaxation temperature.

    Returns:
      Nest of zeta~ = softmax(u / temperature), shaped like `discrete`.
    """

    def relax(leaf, z, noise):
        theta = tf.nn.softmax(leaf)
        noise = tf.stop_gradient(noise)
        chosen_noise = tf.reduce_sum(z * noise, axis=-1, keepdims=True)
        perturbed = tf.where(
            z > 0.5, -tf.math.log(chosen_noise), -tf.math.log(noise / theta + chosen_noise)
        )
        return tf.nn.softmax(perturbed / temperature)

    return tf.nest.map_structure(relax, logits, discrete, exponential_noise)


def sample_conditional(logits, discrete, temperature=DEFAULT_TEMPERATURE, seed=None):
    """Draws zeta~ ~ r(zeta | z) with fresh noise, independent of how z was drawn."""

    def noise(z, leaf_seed):
        return -tf.math.log(_uniform(tf.shape(z), leaf_seed, z.dtype))

    exponential_noise = tf.nest.map_structure(noise, discrete, _leaf_seeds(seed, discrete))
    return conditional_relaxed(logits, discrete, exponential_noise, temperature)


def sample_coupled(logits, temperature=DEFAULT_TEMPERATURE, seed=None, sample_shape=()):
    """Draws z, zeta and zeta~ from one draw of Gumbel noise (see `CoupledSample`).

    The noise that reproduces zeta under r(zeta | z) is recovered in closed form: with
    u = log theta + G and b = argmax u, E_b = exp(-u_b) and E_i = exp(-G_i) - theta_i exp(-u_b);
    given z these are independent Exponential(1) variables, so zeta~ is an exact sample of
    r(zeta | z) and a REBAR or RELAX step needs one relaxed loss evaluation, not two.

    Returns:
      A `CoupledSample` of nests shaped sample_shape + logits' shape.
    """
    discrete, relaxed, noises = [], [], []
    flat_seeds = tf.nest.flatten(_leaf_seeds(seed, logits))
    for leaf, leaf_seed in zip(tf.nest.flatten(logits), flat_seeds, strict=True):
        log_theta = tf.nn.log_softmax(leaf)
        exp_noise = -tf.math.log(_uniform(_noise_shape(leaf, sample_shape), leaf_seed, leaf.dtype))
        perturbed = log_theta - tf.math.log(exp_noise)
        z = tf.one_hot(
            tf.argmax(perturbed, axis=-1, output_type=tf.int32),
            tf.shape(leaf)[-1],
            dtype=leaf.dtype,
        )
        chosen_exp = tf.exp(-tf.reduce_sum(z * perturbed, axis=-1, keepdims=True))
        noises.append(tf.where(z > 0.5, chosen_exp, exp_noise - tf.exp(log_theta) * chosen_exp))
        discrete.append(z)
        relaxed.append(tf.nn.softmax(perturbed / temperature))

    discrete = tf.nest.pack_sequence_as(logits, discrete)
    relaxed = tf.nest.pack_sequence_as(logits, relaxed)
    noises = tf.nest.pack_sequence_as(logits, noises)
    conditional = conditional_relaxed(logits, discrete, noises, temperature)
    return CoupledSample(discrete, relaxed, conditional)


def masked_logits(logits, mask, gap=MASKED_LOGIT_GAP):
    """Returns logits whose invalid choices sit `gap` below the selector's largest valid logit.

    A search space whose selectors do not all allow every choice (the ProxylessNAS space:
    no 'mic_zero' on channel-changing layers) keeps its logits' full shape and masks them
    before sampling, `log_prob` and `mode`: invalid choices are never drawn nor the argmax,
    and receive no gradient.

    Args:
      logits: a [..., K] tensor (or [S, ..., K] per-sample logits).
      mask: a bool array broadcastable to `logits`: True where a choice is valid; every
        selector needs at least one valid choice.
      gap: distance below the largest valid logit, see `MASKED_LOGIT_GAP`.

    Returns:
      A tensor shaped like `logits`.
    """
    mask = tf.broadcast_to(tf.convert_to_tensor(mask, tf.bool), tf.shape(logits))
    lowest = tf.fill(tf.shape(logits), logits.dtype.min)
    largest_valid = tf.reduce_max(tf.where(mask, logits, lowest), axis=-1, keepdims=True)
    return tf.where(mask, logits, tf.stop_gradient(largest_valid) - gap)


def softened_logits(logits, eps):
    """Logits of the softened probabilities (p + eps) / (1 + K eps), as the released UNAS code's
    `--gsm_soften_eps` samples (log(softmax(phi) + eps)): every choice keeps a probability of at
    least eps / (1 + K eps), and none exceeds (1 + eps) / (1 + K eps) (0.69 for K = 7 and
    eps = 0.08), for the whole search. The gradient flows through the softening.
    """
    return tf.math.log(tf.nn.softmax(logits) + eps)


def log_prob(logits, discrete):
    """Returns log p(z) summed over every selector: shape [S] for samples [S, ..., K]."""

    def leaf_log_prob(leaf, z):
        per_selector = tfd.OneHotCategorical(logits=leaf).log_prob(z)
        return tf.reduce_sum(tf.reshape(per_selector, [tf.shape(z)[0], -1]), axis=1)

    return tf.add_n(tf.nest.flatten(tf.nest.map_structure(leaf_log_prob, logits, discrete)))


def entropy(logits):
    """Returns the entropy of every selector: a nest of [...] tensors."""
    return tf.nest.map_structure(lambda leaf: tfd.OneHotCategorical(logits=leaf).entropy(), logits)


def mode(logits):
    """Returns the most probable choice of every selector: a nest of [...] int32 indices."""
    return tf.nest.map_structure(
        lambda leaf: tf.argmax(leaf, axis=-1, output_type=tf.int32), logits
    )


class ArchitectureDistribution(tf.Module):
    """Independent categoricals over an architecture's selectors, with `tf.Variable` logits phi.

    Logits start at zero: every valid architecture equally likely. Choices a mask rules out
    (ProxylessNAS's 'mic_zero' on channel-changing layers) are never sampled, never the mode and
    carry no probability. With `soften_eps` the valid choices' probabilities are softened
    (`softened_logits`). Every method works on `sampling_logits()`.

    Args:
      choice_shapes: mapping from a selector group's name to its shape [..., K]; each group
        holds selectors that share a number of choices K.
      masks: optional mapping from a group to a bool array of its shape, True where a choice is
        valid (`masked_logits`); groups without one allow every choice.
      soften_eps: eps of `softened_logits`; 0 for none.
      name: module name.

    Raises:
      ValueError: a group's shape has no choice axis or an empty one, a mask names no group, or
        soften_eps is negative.
    """

    def __init__(self, choice_shapes, masks=None, soften_eps=0.0, name=None):
        super().__init__(name=name)
        if not soften_eps >= 0:
            raise ValueError(
                "Invalid value received for argument `soften_eps`. Expected a number >= 0. "
                f"Received: soften_eps={soften_eps!r}"
            )
        self.soften_eps = soften_eps
        unknown = sorted(set(masks or {}) - set(choice_shapes))
        if unknown:
            raise ValueError(
                "Invalid value received for argument `masks`. Expected groups of "
                f"`choice_shapes`. Received: masks for {unknown}"
            )
        self._masks = dict(masks or {})
        for group, shape in choice_shapes.items():
            if len(shape) < 1 or shape[-1] < 1:
                raise ValueError(
                    "Invalid value received for argument `choice_shapes`. Expected shapes "
                    f"[..., K] with K >= 1. Received: choice_shapes[{group!r}]={tuple(shape)}"
                )
        self.logits = {
            group: tf.Variable(tf.zeros(shape), name=group.replace("/", "_"))
            for group, shape in choice_shapes.items()
        }

    def sampling_logits(self):
        """The logits every method samples from, as a plain dict (what tf.functions take): phi,
        softened by `soften_eps`, its invalid choices masked (after the softening, which would
        give them probability)."""
        logits = {}
        for group, value in self.logits.items():
            if self.soften_eps:
                mask = self._masks.get(group)
                valid = value if mask is None else masked_logits(value, mask)
                value = softened_logits(valid, self.soften_eps)
            if group in self._masks:
                value = masked_logits(value, self._masks[group])
            logits[group] = value
        return logits

    def sample(self, num_samples, seed=None):
        """Returns one-hot architectures z, nest of [num_samples, ..., K]."""
        return sample_discrete(self.sampling_logits(), seed, sample_shape=[num_samples])

    def relaxed_sample(self, num_samples, temperature=DEFAULT_TEMPERATURE, seed=None):
        """Returns relaxed architectures zeta, nest of [num_samples, ..., K]."""
        return sample_relaxed(self.sampling_logits(), temperature, seed, sample_shape=[num_samples])

    def coupled_sample(self, num_samples, temperature=DEFAULT_TEMPERATURE, seed=None):
        """Returns a `CoupledSample` of [num_samples, ..., K] nests."""
        return sample_coupled(self.sampling_logits(), temperature, seed, sample_shape=[num_samples])

    def log_prob(self, discrete):
        """Returns log p_phi(z), shape [S]."""
        return log_prob(self.sampling_logits(), discrete)

    def entropy(self):
        """Returns per-selector entropies, a nest of [...] tensors."""
        return entropy(self.sampling_logits())

    def mode(self):
        """Returns the argmax choice per selector (no post-search pruning: UNAS Sec. 4.1)."""
        return mode(self.sampling_logits())
