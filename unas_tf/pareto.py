"""Latency against accuracy over a study's trials: the non-dominated trials and their plot.

A latency-aware search trades accuracy for latency (UNAS Sec. 5, lambda_lat of App. E.1), so a
study that sweeps the latency term's weight answers "which trade-offs are worth having": a
trial is dominated when another is at least as fast and at least as accurate, and better in
one of the two; the trials no other dominates are the Pareto front. The latency is the
re-measured one of each done trial's retrained architecture (`study_trial.measure_latency`).

`write` draws every done trial with a latency, coloured by grid point, the front ringed and
joined, into WORKDIR/pareto.png (beside results.md) and as the image `pareto` of the
TensorBoard run WORKDIR/pareto (its step: how many trials it shows, so that TensorBoard keeps
the front of each aggregation).
"""

import math
import os

import tensorflow as tf

from unas_tf import study
from unas_tf.search_spaces import plotting

PLOT_FILE = study.PARETO_PLOT
SUMMARY_DIR = "pareto"
SUMMARY_TAG = "pareto"


def non_dominated(points):
    """The indices of the points no other point dominates (lower latency, higher accuracy).

    Point j dominates point i when latency_j <= latency_i and accuracy_j >= accuracy_i with one
    of the two strict, so equal points do not dominate each other: both stay on the front.

    Args:
      points: a sequence of (latency, accuracy) pairs.

    Returns:
      The sorted indices of the non-dominated points.
    """
    return [
        i
        for i, (latency, accuracy) in enumerate(points)
        if not any(
            other_latency <= latency
            and other_accuracy >= accuracy
            and (other_latency < latency or other_accuracy > accuracy)
            for other_latency, other_accuracy in points
        )
    ]


def measured_trials(results):
    """The rows of `results["trials"]` (`study.aggregate`) that are done and have a latency."""
    return [
        row
        for row in results["trials"]
        if row["status"] == study.DONE
        and row.get("latency_ms") is not None
        and math.isfinite(row["latency_ms"])
    ]


def front(results):
    """The names of the non-dominated trials of a study's results, fastest first."""
    rows = measured_trials(results)
    points = [(row["latency_ms"], row["test_accuracy"]) for row in rows]
    chosen = sorted(non_dominated(points), key=lambda i: points[i])
    return [rows[i]["name"] for i in chosen]


def draw(results, buffer):
    """Draws the measured trials and their front as a PNG into `buffer` (a path or file)."""
    rows = measured_trials(results)
    on_front = front(results)
    fig = plotting.figure((7, 5))
    axes = fig.add_subplot()
    groups = {}  # grid point -> its trials, in the study's order
    for row in rows:
        group = row["name"].rsplit(",seed=", 1)[0]  # a trial's name ends with its seed
        groups.setdefault(group, []).append(row)
    for group, members in groups.items():
        axes.scatter(
            [row["latency_ms"] for row in members],
            [row["test_accuracy"] for row in members],
            label=group,
            zorder=2,
        )
    best = sorted((row for row in rows if row["name"] in on_front), key=lambda r: r["latency_ms"])
    axes.step(
        [row["latency_ms"] for row in best],
        [row["test_accuracy"] for row in best],
        where="post",
        color="black",
        linestyle="--",
        linewidth=1,
        zorder=1,
    )
    axes.scatter(
        [row["latency_ms"] for row in best],
        [row["test_accuracy"] for row in best],
        s=160,
        facecolors="none",
        edgecolors="black",
        label="non-dominated",
        zorder=3,
    )
    axes.set_xlabel("latency (ms per batch, re-measured)")
    axes.set_ylabel("test top-1 accuracy")
    axes.set_title(
        f"{len(rows)} trials, {len(best)} non-dominated (lower latency, higher accuracy)"
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=80)


def write(workdir, results):
    """Writes pareto.png and its TensorBoard image when a done trial has a latency.

    Args:
      workdir: the study directory.
      results: `study.aggregate`'s results.

    Returns:
      The names of the non-dominated trials, fastest first; None (and nothing written) when no
      done trial has a latency.
    """
    rows = measured_trials(results)
    if not rows:
        return None
    path = os.path.join(workdir, PLOT_FILE)
    partial = f"{path}.partial"
    draw(results, partial)
    os.replace(partial, path)  # a reader never sees half a picture
    with open(path, "rb") as file:
        image = tf.image.decode_png(file.read(), channels=4)[None]
    with tf.summary.create_file_writer(os.path.join(workdir, SUMMARY_DIR)).as_default():
        tf.summary.image(SUMMARY_TAG, image, step=len(rows))
        tf.summary.flush()
    return front(results)
