"""Several replicas and several workers: the same search as one device, the same phi everywhere."""

import json
import os
import pathlib
import socket
import subprocess
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import testing
from unas_tf import distributions, estimators, search_step, strategies
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import penalty as darts_penalty
from unas_tf.search_spaces.darts import supernet as darts_supernet

ROOT = pathlib.Path(__file__).resolve().parent.parent
NUM_WORKERS = 2
WORKER_TIMEOUT_S = 420
OPS = darts_genotype.DARTS_OPS[:2]
GLOBAL_BATCH = 8


@pytest.mark.parametrize(
    ("cluster", "task_type", "task_id", "expected"),
    [
        ({}, None, None, True),
        ({"worker": ["a:1", "b:1"]}, "worker", 0, True),
        ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
        ({"chief": ["a:1"], "worker": ["b:1"]}, "worker", 0, False),
        ({"chief": ["a:1"], "worker": ["b:1"]}, "chief", 0, True),
    ],
)
def test_chief_is_the_chief_task_or_else_worker_0(cluster, task_type, task_id, expected):
    assert strategies.is_chief_task(cluster, task_type, task_id) is expected


def test_the_chief_process_is_read_from_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert strategies.is_chief_process()
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    for index, expected in ((0, True), (1, False)):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
        assert strategies.is_chief_process() is expected


def test_auto_without_tf_config_is_one_device_and_unknown_names_are_refused(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert strategies.create("auto").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="config.strategy"):
        strategies.create("multi_worker")
    with pytest.raises(ValueError, match="config.strategy"):
        strategies.create("tpu")


def _batch(seed):
    return {
        "image": tf.random.stateless_normal([GLOBAL_BATCH, 8, 8, 3], seed=[seed, 0]),
        "label": tf.random.stateless_uniform([GLOBAL_BATCH], [seed, 1], maxval=5, dtype=tf.int32),
    }


def _search_trainer(strategy, **settings):
    """A tiny rebar search under `strategy`, with SGD so that updates are linear in gradients."""
    with strategy.scope():
        supernet = darts_supernet.Supernet(5, 4, 1, op_names=OPS)
        distribution = distributions.ArchitectureDistribution(
            darts_genotype.darts_choice_shapes(len(OPS))
        )
        supernet(_batch(0)["image"][:1], distribution.sample(1, seed=0))
        weight_optimizer, arch_optimizer = keras.optimizers.SGD(0.1), keras.optimizers.SGD(1.0)
        weight_optimizer.build(supernet.trainable_weights)
        arch_optimizer.build(distribution.trainable_variables)
        return search_step.SearchTrainer(
            supernet,
            distribution,
            estimators.create("rebar"),
            weight_optimizer,
            arch_optimizer,
            search_step.SearchSettings(
                global_batch_size=GLOBAL_BATCH,
                grad_clip_norm=0.5,
                weight_decay=0.1,
                arch_weight_decay=0.1,
                **settings,
            ),
            seed=0,
            strategy=strategy,
            architecture_penalty=darts_penalty.architecture_penalty,
        )


def _one_device_step(search, train, val, num_replicas):
    """What `train_step` must do over `num_replicas` replicas, computed replica by replica."""
    halves = [
        [
            tf.nest.map_structure(lambda x, r=r: tf.split(x, num_replicas)[r], batch)
            for r in range(num_replicas)
        ]
        for batch in (train, val)
    ]
    arch = [
        search.architecture_gradients(halves[0][r], halves[1][r], r)[0] for r in range(num_replicas)
    ]
    settings = search.settings
    phi = [search.distribution.logits[k] for k in sorted(search.distribution.logits)]
    search.arch_optimizer.apply(
        [
            tf.add_n(parts) + settings.arch_weight_decay * variable
            for parts, variable in zip(zip(*arch, strict=True), phi, strict=True)
        ],
        phi,
    )
    weights = [search.weight_gradients(halves[0][r], r)[0] for r in range(num_replicas)]
    total = [tf.add_n(parts) for parts in zip(*weights, strict=True)]
    clipped, _ = tf.clip_by_global_norm(total, settings.grad_clip_norm)
    search.weight_optimizer.apply(
        [
            gradient + settings.weight_decay * weight
            for gradient, weight in zip(clipped, search.supernet.trainable_weights, strict=True)
        ],
        search.supernet.trainable_weights,
    )


@pytest.mark.parametrize(
    "settings",
    [
        {},
        # Each replica trains w on its own one-hot architecture, running its ops alone: the
        # others' zero gradients must sum as one device sums them.
        pytest.param(
            {"sampling": "per_batch", "weight_sample": "discrete"}, marks=pytest.mark.slow
        ),
    ],
    ids=["defaults", "discrete_per_batch"],
)
def test_two_replicas_take_the_step_one_device_takes_on_their_batches_and_samples(settings):
    mirrored = _search_trainer(testing.two_cpu_strategy(), **settings)
    single = _search_trainer(tf.distribute.get_strategy(), **settings)
    for source, target in zip(
        mirrored.supernet.trainable_weights, single.supernet.trainable_weights, strict=True
    ):
        target.assign(source.numpy())
    # phi away from zero, so that its L2 term counts.
    initial_phi = {}
    for index, key in enumerate(sorted(single.distribution.logits)):
        value = tf.random.stateless_normal(single.distribution.logits[key].shape, seed=[index, 3])
        single.distribution.logits[key].assign(value)
        mirrored.distribution.logits[key].assign(value)
        initial_phi[key] = value.numpy()
    train, val = _batch(1), _batch(2)
    if settings.get("weight_sample") == "discrete":
        drawn = [single.weight_step_sample(replica, 1) for replica in range(2)]
        assert any(not np.array_equal(drawn[0][key], drawn[1][key]) for key in drawn[0])

    mirrored.step_function(True)(train, val)
    _one_device_step(single, train, val, num_replicas=testing.NUM_LOGICAL_CPUS)

    for key, logits in single.distribution.logits.items():
        np.testing.assert_allclose(
            mirrored.distribution.logits[key].numpy(), logits.numpy(), atol=1e-5, err_msg=key
        )
    for source, target in zip(
        mirrored.supernet.trainable_weights, single.supernet.trainable_weights, strict=True
    ):
        np.testing.assert_allclose(source.numpy(), target.numpy(), atol=1e-5, err_msg=source.path)
    # Phi moved, and identically on both replicas: one mirrored variable, two equal copies.
    assert any(
        not np.allclose(v.numpy(), initial_phi[key])
        for key, v in single.distribution.logits.items()
    )
    for variable in mirrored.distribution.logits.values():
        copies = mirrored.strategy.experimental_local_results(variable)
        np.testing.assert_array_equal(copies[0].numpy(), copies[1].numpy())


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _restored_phi(checkpoint_dir):
    """{selector group: logits} of the latest checkpoint in `checkpoint_dir`, restored by object."""
    distribution = distributions.ArchitectureDistribution(
        darts_genotype.darts_choice_shapes(len(OPS))
    )
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    tf.train.Checkpoint(distribution=distribution).restore(latest).expect_partial()
    return {name: value.numpy() for name, value in distribution.logits.items()}


def _start_workers(workdir, addresses):
    processes = []
    for index in range(len(addresses)):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        processes.append(
            subprocess.Popen(
                testing.tiny_search_command(workdir, "--config.steps_per_epoch=3"),
                cwd=ROOT,
                env={**os.environ, "TF_CONFIG": json.dumps(tf_config)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return processes


@pytest.mark.slow
def test_two_workers_resume_after_sigkill_and_end_with_the_same_phi_and_genotype(tmp_path):
    workdir = tmp_path / "run"
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(NUM_WORKERS)]
    deadline = time.monotonic() + WORKER_TIMEOUT_S

    # Kill both workers once the chief has recorded its first checkpoint, then rerun them.
    processes = _start_workers(workdir, addresses)
    try:
        while tf.train.latest_checkpoint(workdir / "checkpoints") is None:
            assert all(p.poll() is None for p in processes), "a worker ended before the kill"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.05)
    finally:
        for process in processes:
            process.kill()
            process.communicate()

    processes = _start_workers(workdir, addresses)
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=max(deadline - time.monotonic(), 1)))
    finally:
        for process in processes:  # stragglers, e.g. a worker waiting for a dead peer
            process.kill()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert "Resumed" in stderr

    # Both print the same architecture; only the chief wrote outputs into the workdir.
    assert outputs[0][0] == outputs[1][0]
    assert "normal:" in outputs[0][0]
    assert {"config.json", "genotype.json", "checkpoints", "tensorboard"} <= set(
        os.listdir(workdir)
    )
    chief = _restored_phi(workdir / "checkpoints")
    other = _restored_phi(workdir / strategies.SCRATCH_DIR / "worker_1" / "checkpoints")
    assert chief.keys() == other.keys() and chief
    for name, value in chief.items():
        np.testing.assert_array_equal(value, other[name], err_msg=name)
    assert any(np.any(value != 0) for value in chief.values()), "phi never moved"
