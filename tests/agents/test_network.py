"""The AlphaZero network's CPU path (channels-last input, in-place activations) computes the
same function and gradients as a plain NCHW forward written here from its layers."""
import torch
import torch.nn.functional as F

from src.agents.alphazero.network import PolicyValueNet
from src.agents.networks import threat_planes


def reference_forward(net: PolicyValueNet, obs: torch.Tensor):
    """The network's function with out-of-place ops on contiguous NCHW tensors."""
    if net.features == "threats" and obs.shape[1] == 2:
        obs = threat_planes(obs)
    x = F.relu(F.conv2d(obs.contiguous(), net.stem.weight, net.stem.bias, padding=1))
    for block in net.tower:
        h = F.relu(F.conv2d(x, block.conv1.weight, block.conv1.bias, padding=1))
        x = F.relu(x + F.conv2d(h, block.conv2.weight, block.conv2.bias, padding=1))
    p = F.relu(F.conv2d(x, net.policy_conv.weight, net.policy_conv.bias)).reshape(x.shape[0], -1)
    logits = p @ net.policy_fc.weight.T + net.policy_fc.bias
    v = F.relu(F.conv2d(x, net.value_conv.weight, net.value_conv.bias)).reshape(x.shape[0], -1)
    v = F.relu(v @ net.value_fc1.weight.T + net.value_fc1.bias)
    return logits, torch.tanh(v @ net.value_fc2.weight.T + net.value_fc2.bias).squeeze(1)


def _net_and_obs(features: str):
    torch.manual_seed(3)
    net = PolicyValueNet((2, 6, 7), 7, channels=16, blocks=2, features=features)
    stones = torch.rand(64, 2, 6, 7)
    own = (stones[:, 0] < 0.3).float()
    other = ((stones[:, 1] < 0.3) & (own == 0)).float()
    return net, torch.stack((own, other), dim=1)


def test_forward_matches_a_plain_nchw_forward():
    for features in ("planes", "threats"):
        net, obs = _net_and_obs(features)
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
