"""Benchmark: variance, bias and time per 10k samples of each estimator on a fixed problem.

    python bench/estimators.py        # prints one JSON object

8 selectors x 4 choices (65,536 architectures, enumerated for the exact gradient), 20,000
single-sample estimates per estimator, times the median of three 10k-sample runs.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from unas_tf import runtime  # noqa: E402

runtime.import_tensorflow_quietly()  # before anything else imports TensorFlow

from unas_tf.estimators import comparison  # noqa: E402

SELECTORS, CHOICES, SAMPLES, SEED = 8, 4, 20_000, 0

if __name__ == "__main__":
    print(json.dumps(comparison.standard_report(SELECTORS, CHOICES, SAMPLES, SEED)))
