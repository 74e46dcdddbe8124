r"""Compares UNAS's gradient estimators with the exact gradient on a toy architecture space.

A quick, offline look at what the search relies on: REINFORCE, REBAR and RELAX are unbiased
(their mean matches the gradient computed by enumerating every architecture), Gumbel-softmax
is biased, and REBAR / RELAX have far lower variance than REINFORCE.

    python -m launch.compare_estimators --selectors=6 --choices=5 --num_samples=20000
"""

import json

from absl import app, flags

from launch import common  # noqa: F401  (first: imports TensorFlow quietly)
from unas_tf.estimators import comparison

_SELECTORS = flags.DEFINE_integer("selectors", 6, "Independent categorical selectors.")
_CHOICES = flags.DEFINE_integer("choices", 5, "Choices per selector.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 20_000, "Estimates drawn per estimator.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the toy problem and of the samples.")
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object instead of tables.")


def main(argv):
    del argv
    for flag in (_SELECTORS, _CHOICES, _NUM_SAMPLES):
        if flag.value < 1:
            raise app.UsageError(f"--{flag.name} must be >= 1, got {flag.value}")
    report = comparison.standard_report(
        _SELECTORS.value, _CHOICES.value, _NUM_SAMPLES.value, _SEED.value
    )
    if _JSON.value:
        print(json.dumps(report))
        return
    print(
        f"{_SELECTORS.value} selectors x {_CHOICES.value} choices, "
        f"{_NUM_SAMPLES.value} single-sample estimates each; bias in standard errors "
        "(unbiased: below ~4)."
    )
    for title in ("differentiable_loss", "table_lookup_loss"):
        print(f"\n{title.replace('_', ' ')}")
        print(f"  {'estimator':<16}{'variance':>12}{'max bias (SE)':>15}{'s / 10k':>10}")
        for row in report[title]:
            print(
                f"  {row['label']:<16}{row['variance']:>12.3f}{row['max_bias_z']:>15.1f}"
                f"{row['seconds_per_10k']:>10.3f}"
            )
    fit = report["surrogate_fit"]
    print(f"\nlinear surrogate held-out MAE {fit['holdout_mae']:.3f}, R^2 {fit['holdout_r2']:.3f}")


if __name__ == "__main__":
    app.run(main)
