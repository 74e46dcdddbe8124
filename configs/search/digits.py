"""Search on scikit-learn's bundled handwritten digits: the offline default, a few minutes on CPU.

    python -m launch.search --workdir=/tmp/unas_digits

Expected: about 5 minutes on a 2-core CPU, most of it TensorFlow building the step's graph;
a genotype.json in the workdir (each epoch and final) and TensorBoard events.
"""

from configs.search import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.search_config(
        dataset="digits",
        image_size=16,
        epochs=6,
        warmup_epochs=2,
        steps_per_epoch=20,
        batch_size=32,
        layers=3,
        init_channels=8,
        log_every=10,
    )
