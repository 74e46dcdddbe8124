"""Summaries of a few runs per setting and Welch's t-test between two settings, in plain Python.

NAS results are compared over seeds (UNAS Sec. 4, after Li and Talwalkar 2019): each setting has
a handful of runs, so the spread is the sample standard deviation and two settings are compared
with Welch's unequal-variance t-test, whose p-value needs Student's t distribution. That takes
the regularized incomplete beta function, computed here by its continued fraction (Numerical
Recipes, 3rd ed., Sec. 6.4), which keeps SciPy out of the dependencies.
"""

import math
from typing import NamedTuple

# The continued fraction converges in O(sqrt(max(a, b))) terms; t-tests with a few runs need
# a handful. These bound the work and set the precision for any degrees of freedom.
_MAX_TERMS = 300
_EPSILON = 1e-15
_TINY = 1e-300  # stands in for a zero denominator in Lentz's method


def mean(values):
    """The arithmetic mean of a non-empty sequence."""
    if not values:
        raise ValueError(
            "Invalid value received for argument `values`. Expected a non-empty "
            "sequence. Received: values=[]"
        )
    return math.fsum(values) / len(values)


def sample_std(values):
    """The sample standard deviation (divisor n - 1), or None for fewer than two values."""
    if len(values) < 2:
        return None
    centre = mean(values)
    return math.sqrt(math.fsum((value - centre) ** 2 for value in values) / (len(values) - 1))


def _beta_continued_fraction(a, b, x):
    """The continued fraction of I_x(a, b) (Numerical Recipes Eq. 6.4.5), by Lentz's method."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    fraction = d
    for m in range(1, _MAX_TERMS + 1):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            fraction *= c * d
        if abs(c * d - 1.0) < _EPSILON:
            return fraction
    raise ArithmeticError(f"incomplete beta I_{x}({a}, {b}) did not converge")


def regularized_incomplete_beta(a, b, x):
    """I_x(a, b) = B(x; a, b) / B(a, b) for a, b > 0 and x in [0, 1]."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(
            f"Invalid value received for argument `x`. Expected a value in [0, 1]. Received: x={x}"
        )
    if x in (0.0, 1.0):
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The fraction converges fast for x < (a + 1) / (a + b + 2); otherwise use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_two_sided_p_value(t, dof):
    """P(|T| >= |t|) for Student's t with `dof` (> 0, not necessarily whole) degrees of freedom."""
    if dof <= 0:
        raise ValueError(
            f"Invalid value received for argument `dof`. Expected > 0. Received: dof={dof}"
        )
    return regularized_incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t))


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
    shares = [sample_std(values) ** 2 / len(values) for values in (a, b)]
    difference = mean(a) - mean(b)
    standard_error = math.sqrt(sum(shares))
    if standard_error == 0.0:
        return Comparison(difference, 0.0, None, None, None)
    t = difference / standard_error
    dof = sum(shares) ** 2 / sum(
        share**2 / (len(values) - 1) for share, values in zip(shares, (a, b), strict=True)
    )
    return Comparison(difference, standard_error, t, dof, t_two_sided_p_value(t, dof))
