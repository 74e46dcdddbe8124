"""Network size as NAS papers report it: parameters and multiply-adds of one image.

Both count the network that runs at inference: layers whose name starts with
`AUXILIARY_PREFIX` (auxiliary classifiers, used only in training) are left out, as are batch
norms' moving statistics. Multiply-adds (MACs) count convolutions, depthwise and pointwise
included, and dense layers; batch norms fold into the convolutions and pooling is free.
"""

import keras
import numpy as np

AUXILIARY_PREFIX = "auxiliary"


def _inference_layers(model):
    return [layer for layer in model.layers if not layer.name.startswith(AUXILIARY_PREFIX)]


def count_params(model):
    """Counts the trainable weights of `model` outside its auxiliary layers.

    Args:
      model: A built Keras model.

    Returns:
      The number of parameters, an int.
    """
    return sum(
        int(np.prod(weight.shape))
        for layer in _inference_layers(model)
        for weight in layer.trainable_weights
    )


def _shape(tensor_or_list):
    if isinstance(tensor_or_list, list | tuple):
        return [tuple(t.shape) for t in tensor_or_list]
    return tuple(tensor_or_list.shape)


def _layer_multiply_adds(layer):
    """Multiply-adds of one call of `layer` in a functional graph, from its config and shapes."""
    if hasattr(layer, "multiply_adds"):
        return layer.multiply_adds(_shape(layer.input))
    if isinstance(layer, keras.layers.Dense):
        return int(np.prod(layer.kernel.shape))
    if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
        _, height, width, _ = layer.output.shape
        return int(np.prod(layer.kernel.shape)) * height * width
    return 0


def count_macs(model, image_size):
    """Counts the multiply-adds of `model` on one image, outside its auxiliary layers.

    Layers from `unas_tf.search_spaces` report their own count (`multiply_adds(input_shape)`);
    Keras Conv2D, DepthwiseConv2D and Dense layers are counted from their kernels and output
    shapes. The shapes are those the functional model was built with, so it must have been
    built for `image_size`.

    Args:
      model: A functional Keras model built for [N, image_size, image_size, C] images.
      image_size: The side of the images the count is for.

    Returns:
      The number of multiply-adds, an int.

    Raises:
      ValueError: if the model was built for another image size.
    """
    built_size = tuple(model.inputs[0].shape[1:3])
    if built_size != (image_size, image_size):
        raise ValueError(
            "Invalid value received for argument `image_size`. Expected the size the model was "
            f"built for, {built_size}. Received: image_size={image_size}"
        )
    return int(
        sum(
            _layer_multiply_adds(layer)
            for layer in _inference_layers(model)
            if not isinstance(layer, keras.layers.InputLayer)
        )
    )


def largest_channels_under_budget(build_fn, max_macs, candidates, image_size=224):
    """Finds the largest channel count whose network stays under a multiply-add budget.

    The mobile setting of ImageNet NAS papers, for example, is < 600M multiply-adds at 224x224.
    Multiply-adds grow with the channels, so a binary search builds only log2(len(candidates))
    networks.

    Args:
      build_fn: Maps a channel count to a functional Keras model built for `image_size`.
      max_macs: The budget; a network must count strictly fewer multiply-adds.
      candidates: Channel counts to choose from.
      image_size: The side of the images the budget is for.

    Returns:
      The largest candidate under the budget.

    Raises:
      ValueError: if no candidate is under the budget.
    """
    candidates = sorted(candidates)
    low, high = 0, len(candidates)
    while low < high:
        middle = (low + high) // 2
        if count_macs(build_fn(candidates[middle]), image_size) < max_macs:
            low = middle + 1
        else:
            high = middle
    if low == 0:
        raise ValueError(
            "Invalid value received for argument `candidates`. Expected at least one channel "
            f"count under max_macs={max_macs}. Received: candidates={candidates}"
        )
    return candidates[low - 1]
