r"""Latency-aware search in the DARTS space on the embedded digits: the CPU-sized latency run.

    python -m launch.search --config=configs/search/digits_latency.py \
        --workdir=/tmp/unas_digits_latency

The digits search (configs/search/digits.py: 3 factorized cells of 8 channels on 16x16 digits,
L_gen by REBAR) with the latency term of UNAS App. E.1, which the paper uses in the ProxylessNAS
space only: L_gen + lambda_lat max(0, latency - target), the latency gradient by RELAX with a
linear surrogate over the cells' op and input choices, fit on 100 random cell pairs. The timed
network is the DARTS evaluation network of the sampled cells at the search's width and depth,
for a 32x32 deployment at batch 32 (at 16x16 the repeats of one measurement spread 6-17%, at
32x32 4-5%, random cell pairs taking 11-15 ms there on a 2-core AMD EPYC), timed as CPU time in
a separate process with one intra-op thread (as configs/search/proxyless_digits.py, which says
why). The target is the 0.3-quantile of the random cell pairs' latencies on this CPU
(`latency.target_quantile`; logged and kept in latency_target.json), so the preset asks the
same of any CPU. lambda_lat ramps from 0 to 2 over all 150 search steps.

Expected: about 15 minutes on a 2-core CPU (14 min 28 s on an AMD EPYC with other jobs
running, 2026-12-04): the digits search's steps, ~2 minutes to time the 100 random
architectures (0.6 to 1.2 s each in the measuring process) and as long again for each search
step's sampled architecture; latency_measurements.json, latency_target.json, genotype.json and
TensorBoard events (latency/sampled_ms, latency/weight, argmax/val_latency_ms) in the workdir.
That run's target was 12.2 ms (random cell pairs: 9.0 to 18.0 ms) and its final cells took
8.1 ms, with 0.45 search-val accuracy for the argmax cells (the digits preset's: 0.67 to 0.82).
`python bench/latency_search.py --preset=configs/search/digits_latency.py --seeds=0,1,2` runs
it with and without the term (bench/README.md has the figures).

Against the paper (section cited; "paper silent; preset default": the paper gives no value; the
why column is blank where they agree). Every key outside `latency` is configs/search/digits.py's,
whose table compares them with App. A.2:

key                 | paper (section)               | this preset        | why they differ
------------------- | ----------------------------- | ------------------ | -------------------------
space               | latency term in the           | darts (digits      | the term is space-
                    | ProxylessNAS space only       | cells)             | agnostic here; CPU scale
                    | (Sec. 5)                      |                    |
latency.weight      | lambda_lat linear 0 -> 0.1    | 2.0                | CPU scale: 150 arch steps
                    | (App. E.1)                    |                    | at arch_lr 2e-3 must move
                    |                               |                    | phi by a few ms
latency.ramp_steps  | paper silent; released code:  | 0: the ramp spans  | 30000 steps would leave
                    | latency_iter=30000 steps      | all 150 search     | lambda_lat at 0.5% of its
                    |                               | steps              | final value here
latency.target_ms,  | paper silent; released code:  | 0.3-quantile of    | portable: a target in ms
target_quantile     | 10 ms on a V100 (Table 3)     | this CPU's random  | holds for one device
                    |                               | cell pairs         |
latency.estimator   | RELAX, linear g (Eq. 5,       | relax, linear g    |
                    | Sec. 5)                       | over the cells'    |
                    |                               | op and input       |
                    |                               | choices            |
latency surrogate   | 10K random architectures, L2  | 100; ridge l2 =    | CPU scale; ridge penalty:
                    | regression (Sec. 5)           | 10.0               | paper silent; preset
                    |                               |                    | default
latency.batch_size  | 32 (Sec. 5)                   | 32                 |
latency device      | the search's V100 (Sec. 5)    | this CPU, process  | CPU scale (see above)
                    |                               | time, 32x32, 1     |
                    |                               | thread             |
"""

from configs.search import common, digits


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    config = digits.get_config()
    config.latency = common.latency_config(
        target_ms=0.0,
        target_quantile=0.3,  # see the docstring
        weight=2.0,  # see the docstring
        surrogate_architectures=100,
        warmup_runs=2,
        repeats=7,
        runs_per_repeat=2,
        clock="process",
        image_size=32,
        separate_process=True,
        intra_op_threads=1,
    )
    return config
