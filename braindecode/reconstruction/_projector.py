"""Condition projector: image embeddings -> cross-attention tokens."""

from __future__ import annotations

import torch
from torch import nn

from braindecode.errors import InvalidArgument
from braindecode.reconstruction._module_files import read_module, save_module


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
        save_module(self, self.config, directory)

    @classmethod
    def from_pretrained(cls, directory) -> "ConditionProjector":
        """Load a projector written by :meth:`save_pretrained`."""
        config, state = read_module(directory, "condition projector")
        projector = cls(**config)
        projector.load_state_dict(state)
        return projector.eval()
