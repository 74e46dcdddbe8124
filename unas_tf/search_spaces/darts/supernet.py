"""The factorized-cell DARTS supernet of UNAS (Sec. 4.1, Fig. 2): reference forward pass.

Every node n of a cell may read any of the n+2 earlier states through any of the K ops, as in
DARTS: one op per (node, input state, op), with weights shared by every architecture. An
architecture sample picks, per node, two input states (i_n, i'_n) and two ops (o_n, o'_n); the
weight of the edge (m, k) is i_n[m] o_n[k] + i'_n[m] o'_n[k], so a one-hot sample gives exactly
the child network of its genotype and a relaxed one a weighted mixture.

Speed: a search step runs the supernet four or five times, and TensorFlow's start-up grows with
the graph (bench/supernet.py counts its nodes). Two paths:
- skipping (`skip_inactive=True`): edges whose weight is at most `skip_threshold` for every
  example (0.05 in the paper's code) contribute nothing and are not run: a one-hot sample
  shared by the batch runs its two ops per node alone (about the cost of the child network,
  when the caller says the sample is one-hot: then no further active edge is looked for);
  per-example samples run, per node, the ops some example chose, each on all the states it
  may read at once (below). For one-hot samples the skipping is exact.
- dense (`skip_inactive=False`): no control flow, cheapest to differentiate; each op runs once
  per node on all the states it may read, concatenated along channels (`ops` "groups").
Batch norms inside cells have no affine parameters, as in the DARTS search.
"""

import functools

import keras
import tensorflow as tf

from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import networks, ops

DEFAULT_SKIP_THRESHOLD = 0.05


def _edge_weights(inputs, ops_):
    """UNAS Fig. 2: the [S, n+2, K] edge weights i (x) o + i' (x) o' of a node's selectors."""
    return tf.einsum("sm,sk->smk", inputs[:, 0], ops_[:, 0]) + tf.einsum(
        "sm,sk->smk", inputs[:, 1], ops_[:, 1]
    )


def _returning(tensor):
    return lambda: tensor


def _select(group_states, member):
    """The state `member` of a group: selecting, not gathering (a gather would copy it)."""
    if len(group_states) == 1:
        return group_states[0]
    return tf.switch_case(member, [_returning(state) for state in group_states])


def _run_copy(op_layer, x, member, training):
    """Applies copy `member` of an op layer to x; grouped ops run as a function call.

    TensorFlow visits every node of an untaken `tf.switch_case` branch; called rather than
    inlined, a grouped op's branch is one node, which speeds up a shared one-hot forward and
    its first call (bench/supernet.py; figures in bench/README.md). Executing eagerly (the
    call that builds the weights), there is no graph to keep small, and a function made per
    call would only be traced per call (TensorFlow warns of retracing).
    """
    if not isinstance(op_layer, ops.GROUPED_OPS):
        return op_layer(x, training=training)
    if tf.executing_eagerly():
        return op_layer(x, training=training, member=member)

    @tf.function(experimental_attributes={"_noinline": True}, autograph=False)
    def call(x, member):
        return op_layer(x, training=training, member=member)

    return call(x, member)


class SupernetCell(keras.layers.Layer):
    """A factorized cell holding every (node, input, op) edge.

    The edges into node n that apply op k to states at the same stride are one op layer with
    one copy of op k's weights per state (`ops` "groups"): `edge_ops[n][g][k]` serves the
    states `state_groups(n)[g]` (all n+2 of them in a normal cell; in a reduction cell the two
    cell inputs, read at stride 2, and the earlier nodes). Densely, each such layer runs once on
    the states concatenated along channels: K graph ops per node where a layer per edge would
    need K (n+2). When skipping, with one architecture for the batch, the two heaviest edges
    run alone, each through a `tf.switch_case` over the node's op layers with the copy of the
    weights that belongs to its state (a one-hot sample then runs what its child network runs);
    any further active edges, and per-example samples, run the op layers that have an active
    edge, each on all its states.

    Args:
      channels: C, the channels of every node.
      op_names: the candidate ops, a prefix of `darts_genotype.DARTS_OPS`.
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
      one_hot: Python bool; see `Supernet`.
    """

    def __init__(
        self,
        channels,
        op_names,
        reduction,
        reduction_prev,
        num_nodes=darts_genotype.NUM_NODES,
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
        self.edge_ops = [
            [
                [
                    ops.create_op(
                        name,
                        channels,
                        self._stride(states),
                        affine=False,
                        layer_name=f"node{node}_states{states[0]}to{states[-1]}_{name}",
                        groups=len(states),
                    )
                    for name in self.op_names
                ]
                for states in self.state_groups(node)
            ]
            for node in range(num_nodes)
        ]

    def state_groups(self, node):
        """The states node `node` reads, as ranges read at one stride each."""
        if not self.reduction:
            return [range(node + 2)]
        return [range(2), range(2, node + 2)][: 1 + (node > 0)]

    def _stride(self, states):
        return 2 if self.reduction and states[0] < 2 else 1

    def build(self, input_shape):
        self.preprocess0.build(input_shape[0])
        self.preprocess1.build(input_shape[1])
        batch, height, width, _ = input_shape[1]
        for node, node_ops in enumerate(self.edge_ops):
            for states, group_ops in zip(self.state_groups(node), node_ops, strict=True):
                for op in group_ops:
                    op.build((batch, height, width, len(states) * self.channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape[1]
        if self.reduction:
            height, width = (None if size is None else (size + 1) // 2 for size in (height, width))
        return (batch, height, width, self.num_nodes * self.channels)

    def call(
        self, inputs, op_sample, input_samples, training=False, skip_inactive=True, one_hot=False
    ):
        s0, s1 = inputs
        states = [self.preprocess0(s0, training=training), self.preprocess1(s1, training=training)]
        for node in range(self.num_nodes):
            weights = _edge_weights(input_samples[node], op_sample[:, node])
            if skip_inactive:
                states.append(self._node(states, node, weights, training, one_hot))
            else:
                states.append(self._dense_node(states, node, weights, training))
        return tf.concat(states[2:], axis=-1)

    def _node(self, states, node, weights, training, one_hot):
        """Sums the edges into a node ([S, n+2, K] weights) that exceed the threshold."""
        active = tf.reduce_any(weights > self.skip_threshold, axis=0)
        # Edges below the threshold for every example contribute nothing, run or not.
        weights *= tf.cast(active, weights.dtype)
        if weights.shape[0] != 1:
            return self._grouped_node(states, node, weights, training, skip=True)
        # One architecture for the batch: a one-hot sample has (at most) two active edges, each
        # run alone; any others (relaxed samples) go through the grouped ops.
        total, rest = self._heaviest_edges(states, node, weights, training)
        if one_hot:
            # Every op of the node sits in the graph of that cond, and TensorFlow visits each
            # node of an untaken branch: a third of a one-hot forward's time at the search size.
            return total
        return total + tf.cond(
            tf.reduce_any(rest > 0.0),
            lambda: self._grouped_node(states, node, rest, training, skip=True),
            lambda: tf.zeros_like(total),
        )

    def _heaviest_edges(self, states, node, weights, training):
        """Runs the two heaviest edges of a shared sample ([1, n+2, K] weights) one by one.

        Each runs in a `tf.switch_case` over the node's op layers, with the copy of the op's
        weights that belongs to the edge's input state (`ops` "member").

        Returns:
          (their weighted sum, the weights of the other edges).
        """
        groups = self.state_groups(node)
        num_ops = len(self.op_names)
        # Per state: its group and its copy within the group's op layers.
        group_of = tf.constant([g for g, states_in in enumerate(groups) for _ in states_in])
        member_of = tf.constant([m - states_in[0] for states_in in groups for m in states_in])
        _, heaviest = tf.math.top_k(tf.reshape(weights, [-1]), 2)
        total = 0.0
        for edge in tf.unstack(heaviest):
            state, op = edge // num_ops, edge % num_ops
            member = member_of[state]
            weight = weights[:, state, op, None, None, None]
            # The edge's input, selected once per group outside the switch (only the edge's own
            # group's selection is used): inside, it would be repeated in every branch.
            group_inputs = [_select([states[m] for m in states_in], member) for states_in in groups]
            branches = [
                functools.partial(_run_copy, op_layer, x, member, training)
                for x, group_ops in zip(group_inputs, self.edge_ops[node], strict=True)
                for op_layer in group_ops
            ]
            # A weightless second edge (a sample repeating an edge) runs nothing: the default.
            index = tf.where(weight[0, 0, 0, 0] > 0.0, group_of[state] * num_ops + op, -1)
            nothing = functools.partial(tf.zeros, self._node_shape(states[1]))
            total += weight * tf.switch_case(index, branches, default=nothing)
        rest = tf.tensor_scatter_nd_update(
            tf.reshape(weights, [-1]), heaviest[:, None], tf.zeros([2], weights.dtype)
        )
        return total, tf.reshape(rest, weights.shape)

    def _dense_node(self, states, node, weights, training):
        """Weights and runs every edge: no control flow, so the cheapest graph to differentiate."""
        return self._grouped_node(states, node, weights, training, skip=False)

    def _grouped_node(self, states, node, weights, training, skip):
        """Runs each op layer once on all the states it serves, weighted by [S, n+2, K].

        With `skip`, an op layer runs only if one of its edges has a positive weight, in a
        `tf.cond` that threads the node's sum (a skipped op adds no tensor of zeros).
        """
        outputs, total = [], tf.zeros(self._node_shape(states[1])) if skip else None
        for states_in, group_ops in zip(self.state_groups(node), self.edge_ops[node], strict=True):
            x = tf.concat([states[m] for m in states_in], axis=-1)
            # [S, G, K] -> [S, 1, 1, G, 1, K], to weight [N, H, W, G, C] op outputs.
            group_weights = weights[:, states_in[0] : states_in[-1] + 1, None, None, None]
            group_weights = tf.transpose(group_weights, [0, 2, 3, 1, 4, 5])
            for op, op_layer in enumerate(group_ops):
                run = functools.partial(
                    self._weighted_op, op_layer, x, group_weights[..., op], training
                )
                if not skip:
                    outputs.append(run())
                    continue
                total = tf.cond(
                    tf.reduce_any(group_weights[..., op] > 0.0),
                    lambda run=run, total=total: total + run(),
                    functools.partial(tf.identity, total),
                )
        return total if skip else tf.add_n(outputs)

    def _weighted_op(self, op_layer, x, weights, training):
        """sum_g weights[..., g, :] op(x)_g for G states concatenated in x, [S, 1, 1, G, 1]."""
        out = op_layer(x, training=training)
        out = tf.reshape(out, tf.concat([tf.shape(out)[:3], [-1, self.channels]], axis=0))
        return tf.reduce_sum(out * weights, axis=3)

    def _node_shape(self, state):
        """[N, H', W', C] of every node: the cell inputs' resolution, halved in a reduction."""
        shape = tf.shape(state)
        if self.reduction:
            return [shape[0], (shape[1] + 1) // 2, (shape[2] + 1) // 2, self.channels]
        return [shape[0], shape[1], shape[2], self.channels]


class Supernet(keras.layers.Layer):
    """The search network: stem, `layers` factorized cells, global pooling, classifier.

    Stem, cell plan and classifier are the evaluation networks' (`networks`), so a
    one-hot sample with the weights copied across reproduces the child network's outputs.

    Args:
      num_classes: classifier outputs.
      init_channels: C of the first cells.
      layers: number of cells (8 for the CIFAR search, 14 for ImageNet).
      op_names: candidate ops, a prefix of `darts_genotype.DARTS_OPS` (ImageNet searches use five).
      stem: "cifar" (32x32 inputs, also the embedded data) or "imagenet" (224x224).
      skip_threshold: see `SupernetCell`.
      **kwargs: base layer keyword arguments.

    Call arguments:
      images: [N, H, W, 3].
      sample: mapping with the keys of `darts_genotype.darts_choice_shapes(K)`, each [S, ...] with
        S = 1 (one architecture for the batch) or S = N (one per example); one-hot or relaxed.
      training: Python bool.
      skip_inactive: Python bool. True runs only edges whose weight exceeds `skip_threshold`
        for some example (cheapest to run); False runs every edge without control flow
        (cheapest to differentiate: cond gradients grow the graph several-fold).
      one_hot: Python bool, a promise that `sample` is one-hot. With skipping and a shared
        sample, each node then runs its two selected edges and looks for no other active edge,
        which keeps the rest of the node's ops out of the graph.

    Returns:
      [N, num_classes] logits.
    """

    def __init__(
        self,
        num_classes,
        init_channels,
        layers,
        op_names=darts_genotype.DARTS_OPS,
        stem="cifar",
        skip_threshold=DEFAULT_SKIP_THRESHOLD,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.op_names = tuple(op_names)
        self.stem = networks.Stem(stem, init_channels, name="stem")
        plans = networks.cell_plans(layers, init_channels, self.stem.reduction_prev)
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

    def build(self, images_shape):
        # Without it Keras builds the layer by tracing `call` on symbolic inputs, which the
        # cells' dynamic shapes defeat (it then warns and leaves the weights to the first call).
        self.stem.build(images_shape)
        s0, s1 = self.stem.compute_output_shape(images_shape)
        for cell in self.cells:
            cell.build([s0, s1])
            s0, s1 = s1, cell.compute_output_shape([s0, s1])
        self.classifier.build((s1[0], s1[-1]))

    def call(self, images, sample, training=False, skip_inactive=True, one_hot=False):
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
                one_hot=one_hot,
            )
            s0, s1 = s1, s1_next
        return self.classifier(tf.reduce_mean(s1, axis=[1, 2]))
