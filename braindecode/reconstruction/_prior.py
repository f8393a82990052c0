"""Low-level path: coarse latents predicted from embeddings, to start img2img from."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from braindecode.errors import InvalidArgument
from braindecode.reconstruction._module_files import read_module, save_module


class LatentPrior(nn.Module):
    """Coarse latents as a kernel-weighted average of reference latents (Nadaraya-Watson regression).

    An embedding is standardised with the reference statistics, centred and
    L2-normalised; its cosine similarities to the references, divided by
    ``temperature`` and soft-maxed, weight the reference latents. A small
    temperature approaches nearest-neighbour retrieval, a large one the mean.

    Parameters
    ----------
    embeddings : array of shape (n_references, d)
        Embeddings of the reference (training) images.
    latents : array of shape (n_references, c, h, w)
        Their scaled latents (the UNet's input space).
    temperature : float
        Softmax temperature of the cosine similarities.
    """

    def __init__(self, embeddings, latents, temperature: float = 0.02):
        super().__init__()
        emb = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        lat = torch.as_tensor(np.asarray(latents, dtype=np.float32))
        if emb.ndim != 2 or lat.ndim != 4 or len(emb) != len(lat) or len(emb) < 2:
            raise InvalidArgument(f"prior needs (n, d) embeddings and (n, c, h, w) latents, got {tuple(emb.shape)}"
                                  f" and {tuple(lat.shape)}")
        if not temperature > 0:
            raise InvalidArgument(f"prior temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.register_buffer("mean", emb.mean(0))
        self.register_buffer("scale", emb.std(0) + 1e-6)
        self.register_buffer("keys", self._normalize(emb))
        self.register_buffer("values", lat)

    @property
    def embedding_dim(self) -> int:
        return self.keys.shape[1]

    @property
    def config(self) -> dict:
        return {"temperature": self.temperature, "n_references": len(self.keys), "embedding_dim": self.embedding_dim,
                "latent_shape": list(self.values.shape[1:])}

    def _normalize(self, embeddings: torch.Tensor) -> torch.Tensor:
        z = (embeddings - self.mean) / self.scale
        z = z - z.mean(1, keepdim=True)
        return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Latents of shape (n, c, h, w) from embeddings of shape (n, d)."""
        weights = torch.softmax(self._normalize(embeddings) @ self.keys.T / self.temperature, dim=1)
        return (weights @ self.values.flatten(1)).reshape((-1,) + tuple(self.values.shape[1:]))

    def save_pretrained(self, directory) -> None:
        """Write ``config.json`` and ``model.safetensors`` (reference embeddings and latents) into ``directory``."""
        save_module(self, self.config, directory)

    @classmethod
    def from_pretrained(cls, directory) -> "LatentPrior":
        """Load a prior written by :meth:`save_pretrained`."""
        config, state = read_module(directory, "latent prior")
        prior = cls(torch.zeros(2, config["embedding_dim"]), torch.zeros([2] + config["latent_shape"]),
                    config["temperature"])
        for name in ("keys", "values"):
            setattr(prior, name, torch.empty_like(state[name]))
        prior.load_state_dict(state)
        return prior.eval()
