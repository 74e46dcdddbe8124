"""Where profiled steps spend their time: TensorFlow op time by op type, from a profile.

`tf.profiler.experimental.start(logdir)` writes the host's trace as an XSpace (`*.xplane.pb`).
Each op the executor runs is an event named "op_name:OpType" on the thread that ran it; events
that run other ops (a cond's `If`, a function call) contain theirs, so an op's self time is its
duration less that of the events nested in it on the same thread. TensorBoard's profile plugin
shows the same trace; this summary needs no plugin, so a benchmark can print it.
"""

import collections
import glob
import os
import re

from tensorflow.tsl.profiler.protobuf import xplane_pb2

HOST_PLANE = "/host:CPU"
_OP_EVENT = re.compile(r"^[^:]+:([A-Za-z0-9_]+)$")
_PICOSECONDS = 1e-12


def _self_times(events, names):
    """Yields (op type, self seconds) of a thread's op events, less their nested op events."""
    spans = []
    for event in events:
        match = _OP_EVENT.match(names[event.metadata_id])
        if match:
            spans.append((event.offset_ps, event.offset_ps + event.duration_ps, match.group(1)))
    spans.sort(key=lambda span: (span[0], -span[1]))
    open_spans = []  # [end, op type, nested picoseconds] of the events containing the current
    for start, end, op_type in spans:
        while open_spans and open_spans[-1][0] <= start:
            finished = open_spans.pop()
            yield finished[1], finished[3] - finished[2]
        if open_spans:
            open_spans[-1][2] += end - start
        open_spans.append([end, op_type, 0, end - start])
    for finished in reversed(open_spans):
        yield finished[1], finished[3] - finished[2]


def summarize(logdir, wall_seconds, top=12):
    """Op time of the latest profile under `logdir`.

    Args:
      logdir: the directory given to `tf.profiler.experimental.start`.
      wall_seconds: wall time of the profiled work, to say how busy the cores were.
      top: op types listed.

    Returns:
      A dict: `op_seconds` (self time of every op, summed over threads), `cores_busy` (that
      over `wall_seconds`: 2.0 keeps two cores busy throughout; the rest of the wall time went
      to Python, dispatch or waiting), `threads` (threads that ran ops) and `top_ops` ([op
      type, seconds, share of op_seconds] of the costliest types).

    Raises:
      FileNotFoundError: no profile under `logdir`.
    """
    paths = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))
    if not paths:
        raise FileNotFoundError(f"no *.xplane.pb profile under {logdir}")
    space = xplane_pb2.XSpace()
    with open(max(paths, key=os.path.getmtime), "rb") as file:
        space.ParseFromString(file.read())
    by_type, threads = collections.Counter(), 0
    for plane in space.planes:
        if plane.name != HOST_PLANE:
            continue
        names = {key: metadata.name for key, metadata in plane.event_metadata.items()}
        for line in plane.lines:
            before = sum(by_type.values())
            for op_type, picoseconds in _self_times(line.events, names):
                by_type[op_type] += picoseconds * _PICOSECONDS
            threads += sum(by_type.values()) > before
    total = sum(by_type.values())
    return {
        "op_seconds": round(total, 3),
        "cores_busy": round(total / wall_seconds, 2),
        "threads": threads,
        "top_ops": [
            [op_type, round(seconds, 3), round(seconds / total, 3)]
            for op_type, seconds in by_type.most_common(top)
        ],
    }
