"""unas_tf: UNAS architecture search (Vahdat et al., CVPR 2020) in TensorFlow 2 / Keras 3."""

from unas_tf import runtime

runtime.import_tensorflow_quietly()
