r"""Latency-aware search in the ProxylessNAS space on the embedded digits: a small CPU run.

    python -m launch.search --config=configs/search/proxyless_digits.py \
        --workdir=/tmp/unas_proxyless_digits

The ProxylessNAS-GPU backbone at width 0.25 on 32x32 digits, latency measured at batch 32 on
this CPU; L_gen + lambda_lat max(0, latency - target) with lambda_lat annealed from 0 to 1.0
(10x App. E.1's 0.1: this search has 140 architecture steps, not 15 epochs) and the latency
gradient by RELAX with a linear surrogate fit on 200 random architectures. Latency is this
process's CPU time ("process" clock), steadier than wall time on a shared host. The 7 ms target
lies between the fastest architecture (every removable layer skipped: 3.6-5 ms) and the slowest
(all mic_7x7_e6: 12.3 ms, quiet 2-core CPU).

Expected: about 10 minutes on a 2-core CPU (measuring the 200 architectures ~2.5 min, then
~2.5 s per architecture step), latency_measurements.json, genotype.json and TensorBoard events
in the workdir. Measured once (bench/latency_search.py, re-measured in a fresh process): 6.95 ms
with the latency term (5 layers skipped) against 10.13 ms without (2 skipped), a margin too
thin to call the effect shown; the in-search meter read both at ~13 ms (CPU time of a process
whose input pipeline runs beside it), and the surrogate explains little (held-out R^2 < 0).
"""

from configs.search import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.proxyless_search_config(
        latency=dict(
            target_ms=7.0,
            weight=1.0,  # 10x App. E.1: 140 architecture steps instead of 15 epochs
            surrogate_architectures=200,
            warmup_runs=2,
            repeats=10,
            runs_per_repeat=3,
            clock="process",
        ),
        dataset="digits",
        image_size=32,
        width_multiplier=0.25,
        epochs=8,
        warmup_epochs=1,
        steps_per_epoch=20,
        batch_size=32,
        sampling="per_batch",
        arch_lr=2e-2,  # a short search: phi must move within 140 steps
        arch_lr_final=5e-3,
        log_every=10,
    )
