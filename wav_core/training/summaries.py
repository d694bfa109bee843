"""TensorBoard images: what each stage's module currently produces next to the truth."""

from __future__ import annotations

import torch

from ..model.flow import euler_solve
from ..model.normalize import Normalizer
from ..model.wav import Context, WAVModel


def _row(frames: torch.Tensor) -> torch.Tensor:
    """[V, 3, h, w] -> [3, h, V*w]"""
    return torch.cat(list(frames.clamp(0, 1)), dim=-1)


@torch.no_grad()
def write_images(writer, model: WAVModel, stage: str, batch: dict, norm: Normalizer, step: int) -> None:
    was_training = model.training
    model.eval()
    try:
        hist = batch["history"][:1].float()
        if stage == "tokenizer":
            frames = hist[0, :, -1]
            recon = model.tokenizer.decode(model.tokenizer.latents(frames))
            writer.add_image("tokenizer/true_vs_reconstruction", torch.cat([_row(frames), _row(recon)], dim=1), step)
            return
        memory = model.tokenizer.latents(hist)
        text, mask = model.text(list(batch["instruction"][:1]), device=hist.device)
        ctx = Context(memory, text, mask)
        if stage == "world":
            noise = torch.randn(1, *model.cfg.future_latent_shape, device=hist.device)
            pred = euler_solve(lambda x, t: model.world(memory, x, t, text, mask), noise, 10)
            future = batch["future"][:1].float()
            true_row = _row(future[0, :, -1])
            pred_row = _row(model.tokenizer.decode(pred)[0, :, -1])
            writer.add_image("world/true_vs_predicted_future", torch.cat([true_row, pred_row], dim=1), step)
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        states = model.world_features(ctx, torch.randn(1, *model.cfg.future_latent_shape, device=hist.device))
        z = torch.randn(1, *model.cfg.value_shape, device=hist.device)
        value = norm.value_inverse(model.solve_value(model.value.video_kv(states), z, 10))[0, :, -1].cpu()
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot(batch["values"][0, :, -1].cpu().numpy(), label="target")
        ax.plot(value.numpy(), label="predicted")
        ax.set_xlabel("chunk step")
        ax.set_ylabel("total value")
        ax.legend()
        writer.add_figure(f"{stage}/value_total", fig, step)
        plt.close(fig)
    finally:
        model.train(was_training)
