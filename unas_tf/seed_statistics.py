"""Summaries of a few runs per setting, over seeds, and Welch's t-test between two settings.

NAS results are compared over seeds (UNAS Sec. 4, after Li and Talwalkar 2019): each setting has
a handful of runs, so the spread is the sample standard deviation and two settings are compared
with Welch's unequal-variance t-test, which assumes neither equal spreads nor equal numbers of
runs (a searched setting and the random baseline may have had different failures). The test is
SciPy's; this module fixes what a study records of it, including when the test is undefined.
"""

import math
import statistics
from typing import NamedTuple

from scipy import stats


def mean(values):
    """The arithmetic mean of a non-empty sequence.

    Raises:
      ValueError: `values` is empty (a `statistics.StatisticsError`).
    """
    return statistics.fmean(values)


def sample_std(values):
    """The sample standard deviation (divisor n - 1), or None for fewer than two values."""
    return statistics.stdev(values) if len(values) >= 2 else None


class Comparison(NamedTuple):
    """Welch's t-test of mean(a) - mean(b).

    Attributes:
      difference: mean(a) - mean(b).
      standard_error: sqrt(s_a^2 / n_a + s_b^2 / n_b), the difference's standard error.
      t: difference / standard_error, or None when the standard error is zero.
      dof: the Welch-Satterthwaite degrees of freedom, or None when the standard error is zero.
      p_value: two-sided, or None when the standard error is zero.
    """

    difference: float
    standard_error: float
    t: float | None
    dof: float | None
    p_value: float | None


def welch_test(a, b):
    """Welch's unequal-variance t-test of mean(a) - mean(b) (Welch 1947).

    Args:
      a, b: sequences of at least two numbers each.

    Returns:
      A `Comparison`.

    Raises:
      ValueError: a sequence has fewer than two values (no variance to estimate).
    """
    for name, values in (("a", a), ("b", b)):
        if len(values) < 2:
            raise ValueError(
                f"Invalid value received for argument `{name}`. Expected at least two values. "
                f"Received: {name}={list(values)}"
            )
    difference = mean(a) - mean(b)
    # The standard library's variance is exact, so runs that all scored the same give exactly
    # zero. There t is undefined; SciPy would report an infinite t and p = 0, or, from rounding
    # in its own variance, a huge t, which would read as a significant difference.
    standard_error = math.sqrt(sum(statistics.variance(values) / len(values) for values in (a, b)))
    if standard_error == 0.0:
        return Comparison(difference, 0.0, None, None, None)
    result = stats.ttest_ind(a, b, equal_var=False)
    return Comparison(
        difference, standard_error, float(result.statistic), float(result.df), float(result.pvalue)
    )
