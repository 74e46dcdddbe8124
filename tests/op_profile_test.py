"""bench/op_profile.py: op self time by type from a profile's host plane."""

import pytest
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from bench import op_profile

MILLISECOND = 10**9  # picoseconds


def _write_profile(directory, threads, plane_name=op_profile.HOST_PLANE):
    """Writes an XSpace whose plane has one line per thread of (name, start_ms, end_ms)."""
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name=plane_name)
    ids = {}
    for events in threads:
        line = plane.lines.add()
        for name, start, end in events:
            if name not in ids:
                ids[name] = len(ids) + 1
                plane.event_metadata[ids[name]].name = name
            line.events.add(
                metadata_id=ids[name],
                offset_ps=start * MILLISECOND,
                duration_ps=(end - start) * MILLISECOND,
            )
    path = directory / "plugins" / "profile" / "run" / "host.xplane.pb"
    path.parent.mkdir(parents=True)
    path.write_bytes(space.SerializeToString())


def test_self_time_leaves_out_nested_ops_and_non_op_events(tmp_path):
    _write_profile(
        tmp_path,
        [
            [
                ("cond:If", 0, 100),
                ("conv:Conv2D", 10, 40),
                ("ExecutorState::Process", 12, 14),  # not an op: no "name:Type"
                ("mm:MatMul", 50, 70),
                ("relu:Relu", 120, 130),
            ],
            [("conv_1:Conv2D", 0, 30)],
        ],
    )
    summary = op_profile.summarize(tmp_path, wall_seconds=200e-3)
    seconds = {op_type: value for op_type, value, _ in summary["top_ops"]}
    assert seconds == pytest.approx({"Conv2D": 60e-3, "If": 50e-3, "MatMul": 20e-3, "Relu": 10e-3})
    assert summary["op_seconds"] == pytest.approx(140e-3, abs=1e-3)
    assert summary["threads"] == 2
    assert summary["top_ops"][0][0] == "Conv2D"


def test_other_planes_are_ignored_and_a_missing_profile_is_named(tmp_path):
    _write_profile(tmp_path / "gpu", [[("conv:Conv2D", 0, 30)]], plane_name="/device:GPU:0")
    assert op_profile.summarize(tmp_path / "gpu", wall_seconds=1.0)["op_seconds"] == 0
    with pytest.raises(FileNotFoundError, match="no .*xplane.pb profile under"):
        op_profile.summarize(tmp_path / "empty", wall_seconds=1.0)
