"""Which `tf.distribute` strategy a run uses, and what each worker of it may write.

One code path serves one device, several GPUs of one host (MirroredStrategy) and several hosts
(MultiWorkerMirroredStrategy, configured by the `TF_CONFIG` environment variable). Batch sizes
in configs are global: examples per step over every replica of every worker.

Under several workers every worker runs the same program. The chief (task "chief", or worker 0
when there is no chief) writes the real checkpoints, summaries and genotype files; the others
write their checkpoints into a scratch directory, because saving a distributed checkpoint is a
collective operation every worker must take part in.
"""

import json
import os

import tensorflow as tf

KNOWN = ("auto", "default", "mirrored", "multi_worker")
SCRATCH_DIR = "workers"  # under the workdir: checkpoints of the non-chief workers
CHECKPOINT_DIR = "checkpoints"  # the run's checkpoints, under its workdir


def _cluster_spec():
    """Returns TF_CONFIG's cluster and task, or (None, None) when it is unset or empty."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return None, None
    try:
        tf_config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG: not valid JSON ({error})") from error
    return tf_config.get("cluster"), tf_config.get("task")


def create(name):
    """Returns the strategy `name` selects; call it before any other TensorFlow work.

    Args:
      name: "auto" (TF_CONFIG with a cluster -> multi_worker; several GPUs -> mirrored; else
        default), "default" (one device), "mirrored" (every local GPU, or the CPU) or
        "multi_worker" (the hosts of TF_CONFIG).

    Raises:
      ValueError: an unknown name, or multi_worker without a TF_CONFIG cluster.
    """
    if name not in KNOWN:
        raise ValueError(f"config.strategy: expected one of {list(KNOWN)}, got {name!r}")
    cluster, _ = _cluster_spec()
    if name == "auto":
        if cluster:
            name = "multi_worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "multi_worker":
        if not cluster:
            raise ValueError(
                "config.strategy: multi_worker needs TF_CONFIG with a cluster; see the README"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief_task(cluster, task_type, task_id):
    """Whether the task (task_type, task_id) of `cluster` ({job: [addresses]}) is the chief.

    The "chief" task if the cluster has one, else worker 0; every task of an empty cluster
    (a single process) is.
    """
    if not cluster:
        return True
    if "chief" in cluster:
        return task_type == "chief"
    return task_type == "worker" and task_id == 0


def is_chief_process():
    """Whether TF_CONFIG makes this process the chief (True without TF_CONFIG)."""
    cluster, task = _cluster_spec()
    task = task or {}
    return is_chief_task(cluster, task.get("type"), task.get("index"))


def process_directory(workdir):
    """The directory of `workdir` that this process owns, from TF_CONFIG alone.

    The chief owns the workdir; another worker owns WORKDIR/workers/<type>_<index>, where its
    checkpoints go too. Known before the strategy is created, so a run can claim it first.
    """
    if is_chief_process():
        return workdir
    _, task = _cluster_spec()
    return _scratch_dir(workdir, task["type"], task["index"])


def _scratch_dir(workdir, task_type, task_id):
    """WORKDIR/workers/<type>_<index>: what a non-chief worker writes to."""
    return os.path.join(workdir, SCRATCH_DIR, f"{task_type}_{task_id}")


def _resolver(strategy):
    return getattr(strategy.extended, "_cluster_resolver", None)


def is_chief(strategy):
    """Whether this process writes the run's outputs (always, unless several workers run)."""
    resolver = _resolver(strategy)
    if resolver is None:
        return True
    return is_chief_task(resolver.cluster_spec().as_dict(), resolver.task_type, resolver.task_id)


def checkpoint_dir(workdir, strategy):
    """Where this process saves checkpoints: the run's own, or a scratch one for non-chiefs."""
    if is_chief(strategy):
        return os.path.join(workdir, CHECKPOINT_DIR)
    resolver = _resolver(strategy)
    return os.path.join(_scratch_dir(workdir, resolver.task_type, resolver.task_id), CHECKPOINT_DIR)


def split_global_batch(strategy, batch):
    """Global batch -> per-replica values, replica r taking the r-th of equal consecutive parts.

    Every worker reads the same global batch and keeps its replicas' slices, so the input
    pipeline and its checkpointable iterator stay undistributed (distributed iterators cannot
    be saved in a `tf.train.Checkpoint`) and the examples a replica sees do not depend on how
    many workers share the step. Call in cross-replica context.
    """

    def part(context):
        return tf.nest.map_structure(
            lambda x: tf.split(x, context.num_replicas_in_sync)[context.replica_id_in_sync_group],
            batch,
        )

    return strategy.experimental_distribute_values_from_function(part)


def clipped_sum(gradients, clip_norm):
    """Sums every replica's gradients and clips the sum by its global norm, as one device would.

    Keras optimizers sum the replicas' gradients after clipping them one by one, which would make
    clipping depend on the replica count; callers clip the sum here instead and hand the
    optimizer 1 / num_replicas_in_sync of the update, which it sums back. Call in a replica.

    Returns:
      (the clipped sum, its global norm before clipping).
    """
    total = tf.distribute.get_replica_context().all_reduce("SUM", gradients)
    return tf.clip_by_global_norm(total, clip_norm)
