"""Summaries over seeds and Welch's t-test: by hand, closed forms, tables, and R's output."""

import math
import statistics

import pytest

from unas_tf import seed_statistics


def _samples(t, dof):
    """Two samples whose Welch test has statistic `t` and `dof` (1 or even) degrees of freedom."""
    if dof == 1:
        # b has no spread, so the degrees of freedom are a's alone: n_a - 1.
        spread, other = [-1.0, 1.0], [0.0, 0.0]
    else:
        # Equal sizes and variances: 2 (n - 1) degrees of freedom.
        spread = other = [float(i) for i in range(dof // 2 + 1)]
    standard_error = math.sqrt(
        sum(statistics.variance(values) / len(values) for values in (spread, other))
    )
    shift = t * standard_error + statistics.fmean(other) - statistics.fmean(spread)
    return [value + shift for value in spread], other


def test_mean_and_sample_std():
    assert seed_statistics.mean([0.90, 0.92, 0.94]) == pytest.approx(0.92)
    # Squared deviations 0.0004, 0, 0.0004 over n - 1 = 2.
    assert seed_statistics.sample_std([0.90, 0.92, 0.94]) == pytest.approx(0.02)
    assert seed_statistics.sample_std([0.9]) is None
    with pytest.raises(ValueError):
        seed_statistics.mean([])


@pytest.mark.parametrize("t", [0.0, 0.5, 1.0, 3.0, 12.706204736])
def test_p_values_of_one_and_two_degrees_of_freedom_match_their_closed_forms(t):
    # dof 1 is the Cauchy distribution; dof 2 has CDF 1/2 + t / (2 sqrt(2 + t^2)).
    cauchy = seed_statistics.welch_test(*_samples(t, 1))
    assert (cauchy.t, cauchy.dof) == (pytest.approx(t), pytest.approx(1))
    assert cauchy.p_value == pytest.approx(1 - 2 / math.pi * math.atan(t))
    two = seed_statistics.welch_test(*_samples(t, 2))
    assert (two.t, two.dof) == (pytest.approx(t), pytest.approx(2))
    assert two.p_value == pytest.approx(1 - t / math.sqrt(2 + t * t))


@pytest.mark.parametrize(
    ("t", "dof", "p"),
    [
        (12.706204736, 1, 0.05),  # two-sided 5% critical values of Student's t tables
        (2.776445105, 4, 0.05),
        (2.228138852, 10, 0.05),
        (3.169272673, 10, 0.01),
        (-2.228138852, 10, 0.05),
    ],
)
def test_p_values_match_critical_values(t, dof, p):
    comparison = seed_statistics.welch_test(*_samples(t, dof))
    assert comparison.dof == pytest.approx(dof)
    assert comparison.p_value == pytest.approx(p, rel=1e-6)


def test_welch_test_matches_r():
    # R's t.test, Welch's by default: "t = -1.8325, df = 17.9, p-value = 0.08356".
    comparison = seed_statistics.welch_test(
        [11, 9, 10, 11, 10, 12, 9, 11, 12, 9], [11, 13, 10, 13, 12, 9, 11, 12, 12, 11]
    )
    assert comparison.difference == pytest.approx(-1.0)
    assert comparison.t == pytest.approx(-1.8325, abs=5e-5)
    assert comparison.dof == pytest.approx(17.9, abs=5e-2)
    assert comparison.p_value == pytest.approx(0.08356, abs=5e-6)


def test_welch_test_by_hand():
    # a: mean 2, variance 2; b: mean 1, variance 2. SE = sqrt(2/2 + 2/2) = sqrt(2);
    # t = 1 / sqrt(2); Welch dof = (1 + 1)^2 / (1^2 / 1 + 1^2 / 1) = 2.
    comparison = seed_statistics.welch_test([1.0, 3.0], [0.0, 2.0])
    assert comparison.difference == pytest.approx(1.0)
    assert comparison.standard_error == pytest.approx(math.sqrt(2))
    assert comparison.t == pytest.approx(1 / math.sqrt(2))
    assert comparison.dof == pytest.approx(2.0)
    assert comparison.p_value == pytest.approx(1 - 0.5**0.5 / math.sqrt(2.5))
    # Unequal sizes: shares 0.0004 / 3 and 0.0008 / 2; dof from Welch-Satterthwaite.
    comparison = seed_statistics.welch_test([0.90, 0.92, 0.94], [0.80, 0.84])
    share_a, share_b = 0.0004 / 3, 0.0008 / 2
    assert comparison.standard_error == pytest.approx(math.sqrt(share_a + share_b))
    assert comparison.dof == pytest.approx(
        (share_a + share_b) ** 2 / (share_a**2 / 2 + share_b**2 / 1)
    )


def test_welch_test_without_spread_or_runs():
    assert seed_statistics.welch_test([1.0, 1.0], [0.5, 0.5]) == (0.5, 0.0, None, None, None)
    # Equal runs whose floating-point mean is inexact: still no spread, not a huge t.
    assert seed_statistics.welch_test([0.1] * 3, [0.2] * 3)[1:] == (0.0, None, None, None)
    with pytest.raises(ValueError, match="Expected at least two values"):
        seed_statistics.welch_test([1.0], [0.5, 0.6])
