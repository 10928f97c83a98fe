"""The AlphaZero network's CPU path (channels-last input, in-place activations) computes the
same function and gradients as a plain NCHW forward from its layers (the one
benchmarks/az_network_sps.py times it against)."""
import torch
import torch.nn.functional as F

from benchmarks.az_network_sps import plain_forward as reference_forward
from src.agents.alphazero.network import PolicyValueNet
from src.agents.networks import threat_planes


def _net_and_obs(features: str, value_planes: int = 1):
    torch.manual_seed(3)
    net = PolicyValueNet((2, 6, 7), 7, channels=16, blocks=2, features=features, value_planes=value_planes)
    stones = torch.rand(64, 2, 6, 7)
    own = (stones[:, 0] < 0.3).float()
    other = ((stones[:, 1] < 0.3) & (own == 0)).float()
    return net, torch.stack((own, other), dim=1)


def test_forward_matches_a_plain_nchw_forward():
    for features, value_planes in (("planes", 1), ("threats", 1), ("threats", 4)):
        net, obs = _net_and_obs(features, value_planes)
        with torch.no_grad():
            got, want = net(obs), reference_forward(net, obs)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            assert torch.allclose(g, w, atol=1e-5, rtol=1e-5)


def test_gradients_match_a_plain_nchw_forward():
    net, obs = _net_and_obs("threats")
    target = torch.randint(0, 7, (obs.shape[0],))

    def grads(forward):
        net.zero_grad(set_to_none=True)
        logits, value = forward(obs)
        (F.cross_entropy(logits, target) + (value - 0.5).pow(2).mean()).backward()
        return [p.grad.clone() for p in net.parameters()]

    for g, w in zip(grads(net), grads(lambda o: reference_forward(net, o))):
        assert torch.allclose(g, w, atol=1e-5, rtol=1e-4)


def test_the_input_is_left_unchanged():
    net, obs = _net_and_obs("threats")
    planes = threat_planes(obs)
    before = planes.clone()
    net(planes)
    assert torch.equal(planes, before)


def test_the_value_head_reads_every_one_of_its_planes():
    net, obs = _net_and_obs("threats", value_planes=4)
    assert net.value_conv.out_channels == 4 and net.value_fc1.in_features == 4 * 6 * 7
    with torch.no_grad():
        before = net(obs)[1].clone()
        net.value_conv.weight[3].mul_(-2.0)  # the last plane only
        after = net(obs)[1]
    assert (after - before).abs().max() > 1e-4
