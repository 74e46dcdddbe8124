r"""UNAS latency-aware search in the ProxylessNAS space on ImageNet (UNAS Sec. 5, App. E.1).

    python -m launch.search --config=configs/search/proxyless_imagenet.py \
        --workdir=/tmp/unas_proxyless --config.data_dir=/path/to/tensorflow_datasets

The paper's setting: 224x224, 35 epochs of which the first 20 train only the weights, batch 192
(on 8 V100s), Adam on w (3e-4 to 1e-4) and phi (1e-3 to 3e-4), L_gen + lambda_lat max(0,
latency - target) with lambda_lat annealed from 0 to 0.1, RELAX with a linear latency surrogate
fit on 10k random architectures measured at batch 32 on the search's GPU. The target, 10 ms,
is the V100 latency of the architectures the paper compares (UNAS 9.8 ms, ProxylessNAS-GPU
10.1 ms, Table 3): retarget it to the device that runs the search (`launch.latency` measures a
genotype). Expected: days on 8 V100s; measuring the 10k surrogate architectures alone takes
hours, and they are saved in the workdir (latency_measurements.json) for resumes.
"""

from configs.search import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.proxyless_search_config(
        latency=dict(target_ms=10.0),
        dataset="imagenet2012",
        image_size=224,
        epochs=35,
        warmup_epochs=20,
        batch_size=192,
        log_every=100,
    )
