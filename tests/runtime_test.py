"""Process set-up: the graph passes and thread pools `runtime` sets reach TensorFlow's runtime."""

import os

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
from tensorflow.python.eager import context

from unas_tf import runtime

RewriterConfig = rewriter_config_pb2.RewriterConfig


def test_lightened_graph_optimisation_reaches_function_calls():
    runtime.lighten_graph_optimisation()
    # The options every tf.function call of the process is optimised with.
    options = context.context().function_call_options
    config = config_pb2.ConfigProto.FromString(options.config_proto_serialized)
    rewrite = config.graph_options.rewrite_options
    assert rewrite.memory_optimization == RewriterConfig.NO_MEM_OPT
    assert rewrite.meta_optimizer_iterations == RewriterConfig.ONE
    assert rewrite.disable_tfg_optimizer
    for name in ("layout_optimizer", "remapping", "constant_folding", "loop_optimization"):
        assert getattr(rewrite, name) == RewriterConfig.OFF, name
    # The passes that prune and deduplicate the step's graph stay on.
    for name in ("arithmetic_optimization", "dependency_optimization", "function_optimization"):
        assert getattr(rewrite, name) != RewriterConfig.OFF, name
    assert not rewrite.disable_meta_optimizer
    # Functions traced afterwards still compute.
    assert float(tf.function(lambda x: tf.reduce_sum(x * 2.0))(tf.ones([3]))) == 6.0


def test_ops_spread_over_cores_one_thread_each():
    # conftest.py set the pools up before the runtime started, as the search launcher does.
    assert tf.config.threading.get_intra_op_parallelism_threads() == 1
    assert tf.config.threading.get_inter_op_parallelism_threads() == len(os.sched_getaffinity(0))
