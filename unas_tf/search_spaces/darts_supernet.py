"""The factorized-cell DARTS supernet of UNAS (Sec. 4.1, Fig. 2): reference forward pass.

Every node n of a cell may read any of the n+2 earlier states through any of the K ops, as in
DARTS: one op layer per (node, input state, op), shared by every architecture. An architecture
sample picks, per node, two input states (i_n, i'_n) and two ops (o_n, o'_n); the weight of the
edge (m, k) is i_n[m] o_n[k] + i'_n[m] o'_n[k], so a one-hot sample gives exactly the child
network of its genotype and a relaxed one a weighted mixture.

Speed: a search step runs the supernet four or five times, so edge-ops that cannot contribute
are not run. Each edge-op sits in a `tf.cond` on "is its weight above `skip_threshold` for some
example": a one-hot sample shared by the batch runs only its two ops per node (about the cost
of the child network), per-example one-hot samples run only the ops some example chose, and
relaxed samples skip ops whose weight is below the threshold everywhere (0.05 in the paper's
code; 0 computes every op). For one-hot samples the skipping is exact. Batch norms inside cells
have no affine parameters, as in the DARTS search.
"""

import functools

import keras
import tensorflow as tf

from unas_tf import genotypes
from unas_tf.search_spaces import darts_networks, ops

DEFAULT_SKIP_THRESHOLD = 0.05


def _edge_weights(inputs, ops_):
    """UNAS Fig. 2: the [S, n+2, K] edge weights i (x) o + i' (x) o' of a node's selectors."""
    return tf.einsum("sm,sk->smk", inputs[:, 0], ops_[:, 0]) + tf.einsum(
        "sm,sk->smk", inputs[:, 1], ops_[:, 1]
    )


def _accumulate(total, edge, state, weights, state_index, op_index, training):
    """Adds an edge's output weighted per example (weights [S, n+2, K], S = 1 or N)."""
    weight = weights[:, state_index, op_index, None, None, None]
    return total + weight * edge(state, training=training)


class SupernetCell(keras.layers.Layer):
    """A factorized cell holding every (node, input, op) edge.

    Args:
      channels: C, the channels of every node.
      op_names: the candidate ops, a prefix of `genotypes.DARTS_OPS`.
      reduction: whether this cell halves the resolution (stride 2 on edges from inputs 0, 1).
      reduction_prev: whether the previous cell did.
      num_nodes: intermediate nodes per cell.
      skip_threshold: edge-ops whose weight is at most this for every example are not run.
      **kwargs: base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: a pair [output of cell k-2, output of cell k-1], NHWC.
      op_sample: [S, nodes, 2, K] op selectors (S = 1 shares one architecture across the batch;
        S = N gives each example its own).
      input_samples: per node n, [S, 2, n+2] input selectors.
      training: Python bool; batch statistics in training.
      skip_inactive: Python bool; see `Supernet`.
    """

    def __init__(
        self,
        channels,
        op_names,
        reduction,
        reduction_prev,
        num_nodes=genotypes.NUM_NODES,
        skip_threshold=DEFAULT_SKIP_THRESHOLD,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = channels
        self.skip_threshold = skip_threshold
        self.op_names = tuple(op_names)
        self.reduction = reduction
        self.num_nodes = num_nodes
        if reduction_prev:
            self.preprocess0 = ops.FactorizedReduce(channels, affine=False, name="preprocess0")
        else:
            self.preprocess0 = ops.ReLUConvBN(channels, affine=False, name="preprocess0")
        self.preprocess1 = ops.ReLUConvBN(channels, affine=False, name="preprocess1")
        # edges[n][m][k]: op k applied to state m on its way to node n.
        self.edges = [
            [
                [
                    ops.create_op(
                        name,
                        channels,
                        2 if reduction and state < 2 else 1,
                        affine=False,
                        layer_name=f"node{node}_input{state}_{name}",
                    )
                    for name in self.op_names
                ]
                for state in range(node + 2)
            ]
            for node in range(num_nodes)
        ]

    def build(self, input_shape):
        self.preprocess0.build(input_shape[0])
        self.preprocess1.build(input_shape[1])
        batch, height, width, _ = input_shape[1]
        for node_edges in self.edges:
            for state_edges in node_edges:
                for edge in state_edges:
                    edge.build((batch, height, width, self.channels))

    def call(self, inputs, op_sample, input_samples, training=False, skip_inactive=True):
        s0, s1 = inputs
        states = [self.preprocess0(s0, training=training), self.preprocess1(s1, training=training)]
        node_fn = self._node if skip_inactive else self._dense_node
        for node, node_edges in enumerate(self.edges):
            states.append(
                node_fn(states, node_edges, input_samples[node], op_sample[:, node], training)
            )
        return tf.concat(states[2:], axis=-1)

    def _node(self, states, node_edges, inputs, ops_, training):
        """Weights every edge into a node, running only those whose weight can count."""
        weights = _edge_weights(inputs, ops_)
        # One comparison per node, not per edge: per-edge slicing and reductions would add
        # three tiny ops for each of the (n+2) K edges.
        active = tf.unstack(tf.reduce_any(weights > self.skip_threshold, axis=0))
        # The node's sum is threaded through the conds, so a skipped edge passes it on
        # instead of adding a tensor of zeros.
        total = tf.zeros(self._node_shape(states[1]))
        for state, (state_edges, state_active) in enumerate(zip(node_edges, active, strict=True)):
            for op_index, (edge, edge_active) in enumerate(
                zip(state_edges, tf.unstack(state_active), strict=True)
            ):
                accumulate = functools.partial(
                    _accumulate, total, edge, states[state], weights, state, op_index, training
                )
                total = tf.cond(edge_active, accumulate, functools.partial(tf.identity, total))
        return total

    def _dense_node(self, states, node_edges, inputs, ops_, training):
        """Weights and runs every edge: no control flow, so the cheapest graph to differentiate."""
        weights = _edge_weights(inputs, ops_)
        return tf.add_n(
            [
                weights[:, state, op_index, None, None, None]
                * edge(states[state], training=training)
                for state, state_edges in enumerate(node_edges)
                for op_index, edge in enumerate(state_edges)
            ]
        )

    def _node_shape(self, state):
        """[N, H', W', C] of every node: the cell inputs' resolution, halved in a reduction."""
        shape = tf.shape(state)
        if self.reduction:
            return [shape[0], (shape[1] + 1) // 2, (shape[2] + 1) // 2, self.channels]
        return [shape[0], shape[1], shape[2], self.channels]


class Supernet(keras.layers.Layer):
    """The search network: stem, `layers` factorized cells, global pooling, classifier.

    Stem, cell plan and classifier are the evaluation networks' (`darts_networks`), so a
    one-hot sample with the weights copied across reproduces the child network's outputs.

    Args:
      num_classes: classifier outputs.
      init_channels: C of the first cells.
      layers: number of cells (8 for the CIFAR search, 14 for ImageNet).
      op_names: candidate ops, a prefix of `genotypes.DARTS_OPS` (ImageNet searches use five).
      stem: "cifar" (32x32 inputs, also the embedded data) or "imagenet" (224x224).
      skip_threshold: see `SupernetCell`.
      **kwargs: base layer keyword arguments.

    Call arguments:
      images: [N, H, W, 3].
      sample: mapping with the keys of `genotypes.darts_choice_shapes(K)`, each [S, ...] with
        S = 1 (one architecture for the batch) or S = N (one per example); one-hot or relaxed.
      training: Python bool.
      skip_inactive: Python bool. True runs only edges whose weight exceeds `skip_threshold`
        for some example (cheapest to run); False runs every edge without control flow
        (cheapest to differentiate: cond gradients grow the graph several-fold).

    Returns:
      [N, num_classes] logits.
    """

    def __init__(
        self,
        num_classes,
        init_channels,
        layers,
        op_names=genotypes.DARTS_OPS,
        stem="cifar",
        skip_threshold=DEFAULT_SKIP_THRESHOLD,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.op_names = tuple(op_names)
        self.stem = darts_networks.Stem(stem, init_channels, name="stem")
        plans = darts_networks.cell_plans(layers, init_channels, self.stem.reduction_prev)
        self.cells = [
            SupernetCell(
                plan.channels,
                self.op_names,
                plan.reduction,
                plan.reduction_prev,
                skip_threshold=skip_threshold,
                name=f"cell_{index}",
            )
            for index, plan in enumerate(plans)
        ]
        self.classifier = keras.layers.Dense(num_classes, name="classifier")

    def call(self, images, sample, training=False, skip_inactive=True):
        s0, s1 = self.stem(images, training=training)
        for cell in self.cells:
            kind = "reduce" if cell.reduction else "normal"
            input_samples = [sample[f"{kind}/inputs_{n}"] for n in range(cell.num_nodes)]
            s1_next = cell(
                [s0, s1],
                sample[f"{kind}/ops"],
                input_samples,
                training=training,
                skip_inactive=skip_inactive,
            )
            s0, s1 = s1, s1_next
        return self.classifier(tf.reduce_mean(s1, axis=[1, 2]))
