"""Condition projector: image embeddings -> cross-attention tokens."""

from __future__ import annotations

import json
import pathlib

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from braindecode.errors import InvalidArgument, NotFound

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class ConditionProjector(nn.Module):
    """Map embeddings to the token sequence a UNet cross-attends to.

    The embedding is layer-normalised (so a shrunken decoded embedding and the
    true one land on the same scale), projected linearly to ``n_tokens`` tokens
    and each token is layer-normalised again. The all-zero embedding is the
    null condition of classifier-free guidance.

    Parameters
    ----------
    embedding_dim : int
        Size ``d`` of the input embeddings.
    n_tokens : int
        Number of tokens produced per embedding.
    cross_attention_dim : int
        Token width; equals the UNet's ``cross_attention_dim``.
    """

    def __init__(self, embedding_dim: int, n_tokens: int = 4, cross_attention_dim: int = 64):
        super().__init__()
        for name, value in (("embedding_dim", embedding_dim), ("n_tokens", n_tokens),
                            ("cross_attention_dim", cross_attention_dim)):
            if int(value) < 1:
                raise InvalidArgument(f"projector {name} must be >= 1, got {value}")
        self.embedding_dim = int(embedding_dim)
        self.n_tokens = int(n_tokens)
        self.cross_attention_dim = int(cross_attention_dim)
        self.norm_in = nn.LayerNorm(self.embedding_dim)
        self.proj = nn.Linear(self.embedding_dim, self.n_tokens * self.cross_attention_dim)
        self.norm_out = nn.LayerNorm(self.cross_attention_dim)

    @property
    def config(self) -> dict:
        return {"embedding_dim": self.embedding_dim, "n_tokens": self.n_tokens,
                "cross_attention_dim": self.cross_attention_dim}

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Tokens of shape (n, n_tokens, cross_attention_dim) from embeddings of shape (n, d)."""
        tokens = self.proj(self.norm_in(embeddings))
        return self.norm_out(tokens.reshape(-1, self.n_tokens, self.cross_attention_dim))

    def save_pretrained(self, directory) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(self.config, indent=2) + "\n")
        state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in self.state_dict().items()}
        save_file(state, directory / WEIGHTS_NAME)

    @classmethod
    def from_pretrained(cls, directory) -> "ConditionProjector":
        """Load a projector written by :meth:`save_pretrained`."""
        directory = pathlib.Path(directory)
        if not (directory / CONFIG_NAME).is_file() or not (directory / WEIGHTS_NAME).is_file():
            raise NotFound(f"no condition projector ({CONFIG_NAME} + {WEIGHTS_NAME}) in {directory}")
        config = json.loads((directory / CONFIG_NAME).read_text())
        projector = cls(**config)
        projector.load_state_dict(load_file(directory / WEIGHTS_NAME))
        return projector.eval()
