"""Flow matching as the three modules use it learns a 2-D mixture of Gaussians."""

import torch
from torch import nn

from wav_core.model.flow import euler_solve, flow_loss, interpolate, sample_time, symexp, symlog

MODES = torch.tensor([[2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])


def _data(n, g):
    idx = torch.randint(0, len(MODES), (n,), generator=g)
    return MODES[idx] + 0.15 * torch.randn(n, 2, generator=g)


def test_flow_matching_learns_a_2d_mixture():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 2))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)

    def velocity(x, t):
        return net(torch.cat([x, t[:, None]], 1))

    for _ in range(800):
        x0 = _data(256, g)
        t = sample_time(256, g)
        noise = torch.randn(256, 2, generator=g)
        loss = flow_loss(velocity(interpolate(x0, noise, t), t), x0, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        samples = euler_solve(velocity, torch.randn(2000, 2, generator=g), steps=20)
    dist = torch.cdist(samples, MODES).min(dim=1).values
    assert (dist < 0.6).float().mean() > 0.9
    nearest = torch.cdist(samples, MODES).argmin(dim=1)
    counts = torch.bincount(nearest, minlength=3).float() / len(samples)
    assert counts.min() > 0.2, counts  # every mode is covered


def test_interpolation_endpoints_and_symlog_inverse():
    x0, noise = torch.randn(4, 3), torch.randn(4, 3)
    assert torch.equal(interpolate(x0, noise, torch.zeros(4)), x0)
    assert torch.equal(interpolate(x0, noise, torch.ones(4)), noise)
    v = torch.linspace(-50, 50, 101)
    assert torch.allclose(symexp(symlog(v)), v, atol=1e-4)
