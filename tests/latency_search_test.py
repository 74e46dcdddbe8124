"""The latency-aware search (UNAS App. E.1): its estimator, the step's latency input, the loop."""

import itertools
import json
import pathlib
import subprocess
import sys

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from unas_tf import adam, distributions, estimators, search_step
from unas_tf.latency import measure, search_term
from unas_tf.latency import objective as latency_objective
from unas_tf.latency import target as latency_target
from unas_tf.search_spaces import base as search_space_base
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype

ROOT = pathlib.Path(__file__).resolve().parent.parent
PRESET = "configs/search/proxyless_digits.py"
# Width 0.1 on 16x16 digits (latency at 24x24), batch 8, two steps an epoch, five surrogate
# architectures.
TINY_PROXYLESS_SEARCH = (
    "--config.width_multiplier=0.1",
    "--config.image_size=16",
    "--config.batch_size=8",
    "--config.steps_per_epoch=2",
    "--config.epochs=2",
    "--config.warmup_epochs=1",
    "--config.log_every=1",
    "--config.eval_batches=1",
    "--config.latency.surrogate_architectures=5",
    "--config.latency.batch_size=8",
    "--config.latency.image_size=24",  # the preset measures in a child process, at its size
    "--config.latency.warmup_runs=1",
    "--config.latency.repeats=3",
    "--config.latency.runs_per_repeat=1",
)


# The DARTS preset at 4 channels, batch 8, two steps an epoch, five surrogate architectures.
TINY_DARTS_SEARCH = (
    "--config.init_channels=4",
    "--config.batch_size=8",
    "--config.steps_per_epoch=2",
    "--config.epochs=2",
    "--config.warmup_epochs=1",
    "--config.log_every=1",
    "--config.eval_batches=1",
    "--config.latency.surrogate_architectures=5",
    "--config.latency.batch_size=8",
    "--config.latency.image_size=16",
    "--config.latency.warmup_runs=1",
    "--config.latency.repeats=3",
    "--config.latency.runs_per_repeat=1",
)


def _run_search(workdir, *overrides, preset=PRESET, tiny=TINY_PROXYLESS_SEARCH):
    command = [
        sys.executable,
        "-m",
        "launch.search",
        f"--config={preset}",
        f"--workdir={workdir}",
        *tiny,
        *overrides,
    ]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )


# A fake setting small enough to enumerate: 3 layers of 4 choices, the first without choice 0.
_SHAPE = (3, 4)
_MASK = np.ones(_SHAPE, bool)
_MASK[0, 0] = False
_LATENCY_TABLE = np.array([[0.0, 2.0, 3.0, 5.0], [0.5, 1.0, 4.0, 2.0], [0.0, 3.0, 1.0, 2.5]])
_TARGET = 6.0


def _latency(indices):
    """A non-linear 'measured' latency: additive, plus 2 ms when layers 1 and 2 both pick 2."""
    additive = sum(_LATENCY_TABLE[layer, op] for layer, op in enumerate(indices))
    return float(additive + 2.0 * (indices[1] == 2 and indices[2] == 2))


def _fake_surrogate():
    """An imperfect linear g: the additive part only, slightly off."""
    g = estimators.LinearSurrogate({"layers": _SHAPE})
    g.weights["layers"].assign(0.9 * _LATENCY_TABLE)
    g.bias.assign(0.3)
    return g


def _exact_gradient(phi):
    """d/dphi E[max(0, L(z) - target)] by enumerating every valid architecture."""
    valid = [np.flatnonzero(row) for row in _MASK]
    with tf.GradientTape() as tape:
        log_p = tf.nn.log_softmax(distributions.masked_logits(phi, _MASK))
        expectation = 0.0
        for indices in itertools.product(*valid):
            probability = tf.exp(tf.add_n([log_p[i, k] for i, k in enumerate(indices)]))
            expectation += probability * max(0.0, _latency(indices) - _TARGET)
    return tape.gradient(expectation, phi).numpy()


@pytest.mark.parametrize("estimator", ["relax", "reinforce"])
def test_latency_gradient_is_unbiased(estimator):
    phi = tf.Variable(tf.random.stateless_normal(_SHAPE, seed=[3, 4]))
    objective = latency_objective.LatencyObjective(_fake_surrogate(), _TARGET, estimator)

    @tf.function
    def estimate(seed, latency_ms):
        with tf.GradientTape() as tape:
            logits = {"layers": distributions.masked_logits(phi, _MASK)[None]}
            surrogate = tf.reduce_sum(objective.surrogate_loss(logits, seed, latency_ms).surrogate)
        return tape.gradient(surrogate, phi)

    @tf.function
    def draw(seed):
        logits = {"layers": distributions.masked_logits(phi, _MASK)[None]}
        return tf.argmax(objective.draw(logits, seed)["layers"][0], axis=-1)

    # The loop's protocol: draw eagerly, measure, pass the latency in with the same seed.
    gradients = []
    for i in range(3000):
        seed = tf.constant([i, 7], tf.int32)
        latency_ms = _latency(draw(seed).numpy().tolist())
        gradients.append(estimate(seed, tf.constant(latency_ms)).numpy())
    gradients = np.stack(gradients)
    mean = gradients.mean(axis=0)
    standard_error = gradients.std(axis=0) / np.sqrt(len(gradients))
    exact = _exact_gradient(phi)
    assert np.all(np.abs(mean - exact) <= 4 * standard_error + 1e-3), (mean, exact)
    assert np.all(np.isfinite(gradients))
    assert np.all(gradients[:, ~_MASK] == 0)  # masked choices get no gradient


def test_masked_choices_are_never_drawn_nor_the_argmax():
    # Masked logits far above the valid ones: only the mask keeps them out.
    phi = np.where(proxyless_genotype.choice_mask(), 0.0, 50.0).astype(np.float32)
    phi += np.random.default_rng(0).normal(size=phi.shape).astype(np.float32)
    logits = {
        "layers": distributions.masked_logits(tf.constant(phi), proxyless_genotype.choice_mask())
    }
    coupled = distributions.sample_coupled(logits, 0.4, seed=[1, 2], sample_shape=[5000])
    discrete = distributions.sample_discrete(logits, seed=[3, 4], sample_shape=[5000])
    invalid = ~proxyless_genotype.choice_mask()
    for sample in (coupled.discrete, discrete):
        assert np.all(sample["layers"].numpy()[:, invalid] == 0)
    assert np.all(coupled.relaxed["layers"].numpy()[:, invalid] < 1e-6)
    mode = distributions.mode(logits)["layers"].numpy()
    assert proxyless_genotype.proxyless_from_indices(
        {"layers": mode}
    )  # valid: no zero on stage starts


def test_annealed_weight_is_linear_over_the_search_steps():
    weights = [latency_objective.annealed_weight(step, 4, 4, 0.1) for step in range(9)]
    np.testing.assert_allclose(weights, [0, 0, 0, 0, 0.025, 0.05, 0.075, 0.1, 0.1])


def test_ramp_steps_reaches_the_final_weight_early_and_stays():
    weights = [
        latency_objective.annealed_weight(step, 4, 8, 0.1, ramp_steps=2) for step in range(9)
    ]
    np.testing.assert_allclose(weights, [0, 0, 0, 0, 0.05, 0.1, 0.1, 0.1, 0.1])


class _FakeSupernet(keras.layers.Layer):
    """Linear in the images and in the sample: a step that traces in seconds."""

    def build(self, input_shape):
        self.dense = keras.layers.Dense(10)
        self.dense.build((None, int(np.prod(input_shape[1:]))))
        self.choice = self.add_weight(shape=(21 * 7, 10), initializer="glorot_uniform")

    def call(self, images, sample, training=False, skip_inactive=True, one_hot=False):
        del training, skip_inactive, one_hot
        flat = tf.reshape(images, [tf.shape(images)[0], -1])
        choices = tf.reshape(sample["layers"], [tf.shape(sample["layers"])[0], -1])
        return self.dense(flat) + tf.matmul(choices, self.choice)


class _FakeMeter:
    """Latency = 1 ms per MBConv layer; remembers what it measured."""

    def __init__(self):
        self.measured = []

    def measure(self, genotype):
        self.measured.append(genotype)
        latency = float(sum(op != proxyless_genotype.ZERO_INDEX for op in genotype.layers))
        return measure.Measurement(latency, 0.0, (latency,), 8, "cpu", False, "wall", 0.0)


def _batch(seed):
    return {
        "image": tf.random.stateless_normal([4, 4, 4, 3], seed=[seed, 0]),
        "label": tf.random.stateless_uniform([4], [seed, 1], maxval=10, dtype=tf.int32),
    }


def test_the_step_uses_the_architecture_the_loop_measured():
    distribution = distributions.ArchitectureDistribution(
        proxyless_genotype.proxyless_choice_shapes(), {"layers": proxyless_genotype.choice_mask()}
    )
    distribution.logits["layers"].assign(tf.random.stateless_normal([21, 7], seed=[5, 6]))
    supernet = _FakeSupernet(name="fake_supernet")
    supernet(_batch(0)["image"], distribution.sample(1, seed=0))
    g = estimators.LinearSurrogate(proxyless_genotype.proxyless_choice_shapes())
    g.weights["layers"].assign(np.tile([0.0, 1, 1, 1, 1, 1, 1], [21, 1]).astype(np.float32))
    objective = latency_objective.LatencyObjective(g, target_ms=8.0)
    search = search_step.SearchTrainer(
        supernet,
        distribution,
        estimators.create("rebar"),
        adam.Adam(1e-2),
        adam.Adam(1e-1),
        search_step.SearchSettings(global_batch_size=4, sampling="per_batch"),
        seed=0,
        latency_objective=objective,
    )
    step = search.step_function(True)
    meter = _FakeMeter()
    config = ml_collections.ConfigDict({"seed": 0, "latency": {"weight": 0.1, "ramp_steps": 0}})

    for i in range(3):
        latency, logged = search_term.step_inputs(
            objective, search, search_space_base.get("proxyless"), meter, config, i, 0, 3
        )
        measured = meter.measured[-1]
        assert list(latency["indices"]["layers"].numpy()) == list(measured.layers)
        assert logged["latency/sampled_ms"] == sum(op != 0 for op in measured.layers)
        metrics = step(_batch(2 * i), _batch(2 * i + 1), latency)
        np.testing.assert_allclose(
            float(metrics["latency/loss"]),
            logged["latency/weight"] * max(0.0, logged["latency/sampled_ms"] - 8.0),
            rtol=1e-6,
        )
        # g is exact here, so g of the redrawn sample is the measured latency.
        np.testing.assert_allclose(
            float(metrics["latency/surrogate_ms"]), logged["latency/sampled_ms"], rtol=1e-6
        )

    # Another architecture than the one the seed draws is refused.
    latency, _ = search_term.step_inputs(
        objective, search, search_space_base.get("proxyless"), meter, config, 3, 0, 3
    )
    wrong = dict(latency, indices={"layers": (latency["indices"]["layers"] + 1) % 7})
    with pytest.raises(tf.errors.InvalidArgumentError, match="another latency architecture"):
        step(_batch(8), _batch(9), wrong)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("--config.latency.target_ms=20", "latency.target_quantile"),
        ("--config.latency.batch_size=16", "latency.batch_size"),
        ("--config.space=nasbench", "space"),
        ("--config.latency.estimator=rebar", "latency.estimator"),
    ],
)
def test_bad_latency_config_exits_non_zero_naming_the_key_and_writes_nothing(
    tmp_path, override, named
):
    result = _run_search(tmp_path / "run", override)
    assert result.returncode != 0
    assert named in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_tiny_proxyless_search_runs_and_resumes_without_measuring_again(tmp_path):
    workdir = tmp_path / "run"
    result = _run_search(workdir)
    assert result.returncode == 0, result.stderr
    assert "latency/sampled_ms" in result.stderr and "(warm-up)" in result.stderr
    assert "5 measured now" in result.stderr
    assert "argmax architecture latency" in result.stderr
    genotype = (workdir / "genotype.json").read_text()
    assert json.loads(genotype)["space"] == "proxyless"
    assert len(json.loads(genotype)["layers"]) == 21
    saved = json.loads((workdir / search_term.FILE).read_text())["measurements"]
    assert len(saved) >= 5
    target = json.loads((workdir / latency_target.FILE).read_text())
    assert target["target_quantile"] == 0.3 and target["random_architectures"] == 5
    assert f"Latency target {target['target_ms']:.3f} ms: the 0.30-quantile" in result.stderr

    resumed = _run_search(workdir)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resumed" in resumed.stderr
    assert f"0 measured now in 0 s, {len(saved)} read from" in resumed.stderr
    assert f"Latency target {target['target_ms']:.3f} ms, read from" in resumed.stderr
    assert (workdir / "genotype.json").read_text() == genotype


@pytest.mark.slow
def test_tiny_darts_latency_search_measures_cells_and_reaches_its_quantile_target(tmp_path):
    workdir = tmp_path / "run"
    result = _run_search(workdir, preset="configs/search/digits_latency.py", tiny=TINY_DARTS_SEARCH)
    assert result.returncode == 0, result.stderr
    assert "latency/sampled_ms" in result.stderr and "5 measured now" in result.stderr
    genotype = json.loads((workdir / "genotype.json").read_text())
    assert genotype["space"] == "darts"
    target = json.loads((workdir / latency_target.FILE).read_text())
    measured = json.loads((workdir / search_term.FILE).read_text())["measurements"]
    random_ms = [entry["median_ms"] for entry in measured[:5]]
    assert target["target_ms"] == pytest.approx(np.quantile(random_ms, 0.3))
    assert all(entry["genotype"]["space"] == "darts" for entry in measured)
