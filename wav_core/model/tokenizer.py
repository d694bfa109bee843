"""Convolutional VAE that turns each camera frame into a grid of latent tokens (training stage 0)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import TokenizerConfig


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU())


class VisualTokenizer(nn.Module):
    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        enc, cin = [], 3
        for c in cfg.channels:
            enc += [_block(cin, c), nn.Conv2d(c, c, 4, stride=2, padding=1)]
            cin = c
        self.encoder = nn.Sequential(*enc, nn.SiLU(), nn.Conv2d(cin, 2 * cfg.latent_channels, 1))
        dec, cin = [nn.Conv2d(cfg.latent_channels, cfg.channels[-1], 3, padding=1)], cfg.channels[-1]
        for c in reversed(cfg.channels):
            dec += [_block(cin, c), nn.ConvTranspose2d(c, c, 4, stride=2, padding=1)]
            cin = c
        self.decoder = nn.Sequential(*dec, nn.SiLU(), nn.Conv2d(cin, 3, 3, padding=1))
        self.kl_weight = cfg.kl_weight
        self.detail_weight = cfg.detail_weight

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images [..., 3, H, W] in [0, 1] -> (mean, logvar) [..., C, h, w]."""
        lead = images.shape[:-3]
        out = self.encoder(images.reshape(-1, *images.shape[-3:]) * 2 - 1)
        mean, logvar = out.chunk(2, dim=1)
        return mean.reshape(*lead, *mean.shape[1:]), logvar.clamp(-20, 10).reshape(*lead, *logvar.shape[1:])

    def latents(self, images: torch.Tensor) -> torch.Tensor:
        """Deterministic latents (the posterior mean) used as world-module tokens."""
        return self.encode(images)[0]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        lead = latents.shape[:-3]
        img = self.decoder(latents.reshape(-1, *latents.shape[-3:]))
        img = (img + 1) / 2
        return img.reshape(*lead, *img.shape[1:])

    def loss(self, images: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        mean, logvar = self.encode(images)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + torch.exp(0.5 * logvar) * eps
        recon = self.decode(z)
        rec = F.mse_loss(recon, images) if self.detail_weight == 0 else self._weighted_mse(recon, images)
        kl = 0.5 * torch.mean(mean.pow(2) + logvar.exp() - 1 - logvar)
        return rec + self.kl_weight * kl, {"recon": rec.detach(), "kl": kl.detach()}

    def _weighted_mse(self, recon: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """MSE with weight 1 + detail_weight * (pixel contrast / the frame's mean contrast), normalised
        so that a uniform error costs what plain MSE does."""
        images, recon = images.reshape(-1, *images.shape[-3:]), recon.reshape(-1, *recon.shape[-3:])
        contrast = local_contrast(images)[:, None]
        w = 1 + self.detail_weight * contrast / contrast.mean((2, 3), keepdim=True).clamp_min(1e-6)
        return ((recon - images) ** 2 * w).mean() / w.mean()


def local_contrast(images: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] in [0, 1] -> [N, H, W]: summed absolute difference from the 5x5 mean. High on
    edges and small objects: what `detail_weight` weights and the tokenizer check measures."""
    return (images - F.avg_pool2d(images, 5, 1, 2, count_include_pad=False)).abs().sum(1)
