"""The op recorder that stands in for CUDA's sync debug mode catches what it must."""
import torch

from tests.agents.host_sync import host_syncs, recorded_ops


def test_the_recorder_names_host_reads_and_data_dependent_shapes_but_not_plain_ops():
    x = torch.arange(-3, 4)
    with recorded_ops() as seen:
        y = torch.where(x > 0, x, 0).cumsum(0)
    assert {"where", "cumsum"} <= seen and not host_syncs(seen)
    with recorded_ops() as seen:
        x[x > 0].sum().item()
        x.nonzero()
    assert {"item", "nonzero"} <= host_syncs(seen) or {"_local_scalar_dense", "nonzero"} <= host_syncs(seen)
    assert any(n.endswith("(bool index)") for n in host_syncs(seen))
    assert y[-1] == 6
