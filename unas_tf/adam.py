"""Adam as PyTorch's `torch.optim.Adam` computes it, in one fused op per variable.

The search steps update every supernet weight (about 400 variables at the bench size) with
Adam. Keras's `Adam.update_step` builds about twenty ops per variable, which made the
optimizer most of a search step's outer graph: seconds of tracing and of graph optimisation
before the first step, for no work that matters. `Adam` here keeps Keras's optimizer (its
variables, schedules, checkpoints and distribution handling) and replaces the per-variable
update with TensorFlow's fused `ResourceApplyAdam` kernel, whose step constants are built once
per update instead of once per variable (figures in bench/README.md).

The update is PyTorch's, the released UNAS code's optimizer:

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
    w <- w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),   eps = 1e-8.

Keras's own Adam adds its epsilon (1e-7 by default) to sqrt(v) before the bias correction; the
fused kernel adds it there too, so it receives eps * sqrt(1 - b2^t), which makes its update
PyTorch's exactly. AMSGrad and Keras's Nesterov variant are not offered: no UNAS recipe uses
them.

`reset_moments` gives what the released search does when its weight warm-up ends (it makes a
new `torch.optim.Adam`): zero moments and a bias correction counted from there, while the
learning-rate schedule, which reads `iterations`, goes on.
"""

import keras
import tensorflow as tf

#: PyTorch's default epsilon for Adam, as the released code runs it.
PYTORCH_EPSILON = 1e-8


class Adam(keras.optimizers.Adam):
    """Keras's Adam with PyTorch's update rule, one `ResourceApplyAdam` op per variable.

    Takes Keras Adam's arguments (a schedule as `learning_rate`, `beta_1`, `beta_2`,
    `epsilon`: PyTorch's 1e-8 by default, added after the bias correction of sqrt(v)), except
    `amsgrad`. TensorFlow backend only, as the rest of unas_tf.
    """

    def __init__(self, learning_rate=0.001, epsilon=PYTORCH_EPSILON, **kwargs):
        if kwargs.get("amsgrad"):
            raise ValueError(
                "Invalid value received for argument `amsgrad`. Expected False: the fused "
                "update has no AMSGrad. Received: amsgrad=True"
            )
        super().__init__(learning_rate=learning_rate, epsilon=epsilon, **kwargs)
        self._step_constants = None  # a dict by dtype while `apply` runs

    def build(self, var_list):
        """Adam's moments, and the iteration its moments were last reset at (0: never)."""
        if self.built:
            return
        super().build(var_list)
        self._moments_start = self.add_variable(
            shape=(), initializer="zeros", dtype=self.iterations.dtype, name="moments_start"
        )

    def reset_moments(self):
        """Zeroes both moments and restarts the bias correction: a fresh Adam on the same
        schedule."""
        for moment in (*self._momentums, *self._velocities):
            moment.assign(tf.zeros_like(moment))
        self._moments_start.assign(self.iterations)

    def apply(self, grads, trainable_variables=None):
        """Applies one update; its step constants are built once per dtype, not per variable."""
        self._step_constants = {}
        try:
            return super().apply(grads, trainable_variables)
        finally:
            self._step_constants = None

    def _constants(self, learning_rate, dtype):
        """The scalar arguments of this update's ResourceApplyAdam ops, in `dtype`."""
        if dtype not in self._step_constants:
            step = tf.cast(self.iterations - self._moments_start + 1, dtype)
            beta_1 = tf.cast(self.beta_1, dtype)
            beta_2 = tf.cast(self.beta_2, dtype)
            beta_2_power = tf.pow(beta_2, step)
            self._step_constants[dtype] = {
                "beta1_power": tf.pow(beta_1, step),
                "beta2_power": beta_2_power,
                "lr": tf.cast(learning_rate, dtype),
                "beta1": beta_1,
                "beta2": beta_2,
                "epsilon": tf.cast(self.epsilon, dtype) * tf.sqrt(1.0 - beta_2_power),
            }
        return self._step_constants[dtype]

    def update_step(self, gradient, variable, learning_rate):
        """One fused Adam update of `variable` (a `tf.Variable`, or a replica's component)."""
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            grad=tf.cast(gradient, variable.dtype),
            **self._constants(learning_rate, variable.dtype),
        )
