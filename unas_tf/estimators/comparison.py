"""Side-by-side bias, variance and speed of estimators on a problem small enough to enumerate."""

import math
import time

import numpy as np
import tensorflow as tf

from unas_tf.estimators import estimate, exact, linear_surrogate

SAMPLES_PER_TIMING = 10_000


def compare(logits, loss_fn, candidates, num_samples, seed=0, timing_repeats=3):
    """Measures each candidate estimator against the exact gradient.

    Args:
      logits: [..., K] logits small enough for `exact.enumerate_configurations`.
      loss_fn: maps [N, ..., K] samples to [N] losses (differentiable in relaxed samples if a
        candidate needs that).
      candidates: mapping from a label to `estimate_gradient` keyword arguments, which must
        include `estimator` (e.g. {"rebar": {"estimator": "rebar"}}).
      num_samples: single-sample estimates drawn per candidate for the statistics.
      seed: int seed; each candidate uses the same one.
      timing_repeats: timed runs of SAMPLES_PER_TIMING samples; the median is reported.

    Returns:
      A list of dicts, one per candidate: `label`, `variance` (summed over logits of the
      per-sample variance), `max_bias_z` (largest |mean - exact| in standard errors),
      `mean_abs_error` (|mean - exact| averaged over logits) and `seconds_per_10k`.
    """
    _, truth = exact.expectation_and_gradient(logits, loss_fn)
    truth = truth.numpy().astype(np.float64)
    results = []
    for label, kwargs in candidates.items():
        estimates = estimate.estimate_gradient(
            logits=logits, loss_fn=loss_fn, num_samples=num_samples, seed=seed, **kwargs
        ).numpy()
        estimates = estimates.astype(np.float64)
        error = estimates.mean(axis=0) - truth
        standard_error = estimates.std(axis=0) / math.sqrt(num_samples) + 1e-12
        timings = []
        for repeat in range(timing_repeats + 1):
            start = time.perf_counter()
            estimate.estimate_gradient(
                logits=logits,
                loss_fn=loss_fn,
                num_samples=SAMPLES_PER_TIMING,
                seed=repeat,
                **kwargs,
            ).numpy()
            timings.append(time.perf_counter() - start)
        results.append(
            {
                "label": label,
                "variance": float(np.sum(estimates.var(axis=0))),
                "max_bias_z": float(np.max(np.abs(error) / standard_error)),
                "mean_abs_error": float(np.mean(np.abs(error))),
                "seconds_per_10k": float(np.median(timings[1:])),
            }
        )
    return results


def random_problem(num_selectors, num_choices, seed):
    """A fixed toy problem: random logits and two losses over [num_selectors, num_choices].

    Returns:
      (logits, quadratic_loss, table_loss): the quadratic loss c + a + a^2/2 with a = <W, x>
      is differentiable in relaxed samples; the table loss (near-linear in the choices, plus
      noise) is a NumPy lookup, non-differentiable like a measured latency.
    """
    rng = np.random.default_rng(seed)
    logits = tf.constant(rng.normal(size=[num_selectors, num_choices]), tf.float32)
    weights = tf.constant(rng.normal(size=[num_selectors, num_choices]), tf.float32)

    def quadratic_loss(samples):
        linear = tf.reduce_sum(samples * weights, axis=[1, 2])
        return 3.0 + linear + 0.5 * tf.square(linear)

    per_choice = rng.normal(size=[num_selectors, num_choices])
    grid = np.indices([num_choices] * num_selectors)
    table = 5.0 + sum(per_choice[i][grid[i]] for i in range(num_selectors))
    table = (table + 0.1 * rng.normal(size=table.shape)).astype(np.float32)

    def table_loss(samples):
        chosen = np.argmax(np.asarray(samples), axis=-1)
        return table[tuple(chosen.T)]

    return logits, quadratic_loss, table_loss


def standard_report(num_selectors, num_choices, num_samples, seed):
    """Compares the estimators on `random_problem`: the launcher's and the benchmark's report.

    REINFORCE, Gumbel-softmax and REBAR on the differentiable loss; REINFORCE and RELAX, with a
    linear surrogate fit to every configuration, on the table lookup.

    Returns:
      A JSON-ready dict with the problem, the surrogate's fit and one list of `compare`
      results per loss.
    """
    logits, quadratic_loss, table_loss = random_problem(num_selectors, num_choices, seed)
    surrogate = linear_surrogate.LinearSurrogate({"choices": logits.shape})
    configurations = exact.enumerate_configurations(logits.shape)
    fit = surrogate.fit({"choices": configurations}, table_loss(configurations), seed=seed)
    differentiable = {
        name: {"estimator": name} for name in ("reinforce", "gumbel_softmax", "rebar")
    }
    non_differentiable = {
        "reinforce": {"estimator": "reinforce"},
        "relax+linear": {
            "estimator": "relax",
            "control_variate": lambda samples: surrogate({"choices": samples}),
        },
    }
    return {
        "problem": {"selectors": num_selectors, "choices": num_choices, "samples": num_samples},
        "surrogate_fit": fit._asdict(),
        "differentiable_loss": compare(logits, quadratic_loss, differentiable, num_samples, seed),
        "table_lookup_loss": compare(logits, table_loss, non_differentiable, num_samples, seed),
    }
