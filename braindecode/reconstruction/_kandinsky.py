"""Kandinsky 2.2: a decoder directory (``unet/``, ``scheduler/``, ``movq/``) conditioned on CLIP image embeds."""

from __future__ import annotations

import pathlib

import numpy as np
import torch
from diffusers import UNet2DConditionModel, VQModel

from braindecode.errors import InvalidArgument
from braindecode.reconstruction._graphs import DenoiserGraph, MoVQDecoderGraph, MoVQEncoderGraph
from braindecode.reconstruction._parts import (
    diffusers_scheduler,
    index_encoder,
    load_part,
    one_of,
    read_model_index,
)
from braindecode.reconstruction._pipeline import EmbeddingPipeline

NEGATIVE_FILE = "negative_image_embeds.npy"


class KandinskyV22Family(EmbeddingPipeline):
    """A Kandinsky 2.2 decoder (what ``KandinskyV22Pipeline.save_pretrained`` writes) behind the common interface.

    The embeddings are the UNet's ``image_embeds`` (``encoder_hid_dim_type="image_proj"``, added to the
    time embedding and projected into the tokens it attends to): in Kandinsky 2.2 the ``image_embeds``
    of CLIP ViT-bigG/14 (1280-d), the encoder of the kandinsky-2-2-prior. Classifier-free guidance runs
    against the negative embedding, zero unless one is given. Init images are encoded by the MoVQ
    (its latents before quantization) and noised to the first timestep, as
    ``KandinskyV22Img2ImgPipeline`` does; decoding skips quantization, as both diffusers pipelines do.

    Parameters
    ----------
    unet : diffusers.UNet2DConditionModel
        With ``encoder_hid_dim_type="image_proj"`` and ``addition_embed_type="image"``.
    scheduler : diffusers scheduler
        The noise schedule the UNet was trained with.
    movq : diffusers.VQModel
    negative_embedding : array of shape (d,), optional
        The null condition of guidance (diffusers' ``negative_image_embeds``); default zeros.
    sampling : dict, optional
        Recommended sampling settings; the others come from ``default_sampling``.
    encoder : dict, optional
        ``{"model": ..., "output": ...}`` when the embedding space is not CLIP ViT-bigG/14's.
    """

    family = "KandinskyV22Pipeline"
    default_sampling = {"n_steps": 25, "scheduler": "ddim", "guidance_scale": 4.0, "strength": 0.3}
    max_steps = 100
    default_encoder = {"model": "CLIP ViT-bigG/14 (image_encoder of kandinsky-2-2-prior)", "output": "image_embeds"}
    default_image_side = 512  # diffusers' default height and width

    def __init__(self, unet, scheduler, movq, negative_embedding=None, sampling=None, encoder=None):
        config = unet.config
        if config.encoder_hid_dim_type != "image_proj" or config.addition_embed_type != "image":
            raise InvalidArgument(
                "part 'unet' is not a Kandinsky 2.2 decoder UNet: it needs encoder_hid_dim_type='image_proj' and "
                f"addition_embed_type='image', has {config.encoder_hid_dim_type!r} and {config.addition_embed_type!r}")
        if config.out_channels not in (config.in_channels, 2 * config.in_channels):
            raise InvalidArgument(f"part 'unet' predicts {config.out_channels} channels for {config.in_channels} "
                                  "input channels (expected as many, or twice as many with a learned variance)")
        super().__init__(unet, scheduler, movq, config.encoder_hid_dim, sampling, encoder)
        negative = torch.zeros(self.embedding_dim) if negative_embedding is None else torch.as_tensor(
            np.asarray(negative_embedding, dtype=np.float32))
        if tuple(negative.shape) != (self.embedding_dim,) or not torch.isfinite(negative).all():
            raise InvalidArgument(f"the negative embedding must be finite with shape ({self.embedding_dim},), "
                                  f"got {tuple(negative.shape)}")
        self.negative_embedding = negative.to(self.device)

    @property
    def movq(self):
        return self.autoencoder

    @classmethod
    def from_pretrained(cls, directory, device="cpu", dtype=torch.float32) -> "KandinskyV22Family":
        """Load a decoder directory; a ``negative_image_embeds.npy`` of shape (d,) there sets the negative
        embedding. ``model_index.json`` may hold recommended ``"sampling"`` settings and the ``"encoder"``."""
        directory = pathlib.Path(directory)
        index = read_model_index(directory)
        unet = load_part(directory, index, "unet", one_of(UNet2DConditionModel), "UNet2DConditionModel", cls.family)
        scheduler = load_part(directory, index, "scheduler", diffusers_scheduler, "a diffusers scheduler", cls.family)
        movq = load_part(directory, index, "movq", one_of(VQModel), "VQModel", cls.family)
        negative = None
        if (directory / NEGATIVE_FILE).is_file():
            try:
                negative = np.load(directory / NEGATIVE_FILE, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise InvalidArgument(f"{directory / NEGATIVE_FILE} is not a numpy array file: {exc}") from None
        return cls(unet, scheduler, movq, negative, index.get("sampling"),
                   index_encoder(directory, index)).to(device, dtype)

    def to(self, device=None, dtype=None) -> "KandinskyV22Family":
        super().to(device, dtype)
        self.negative_embedding = self.negative_embedding.to(device)
        return self

    def modules(self) -> dict:
        return {"unet": self.unet, "movq": self.movq}

    @property
    def condition_tokens(self) -> int:
        return self.unet.encoder_hid_proj.num_image_text_embeds

    def component_graphs(self) -> dict:
        """The graphs by name: "unet" (with ``image_embeds``), "vae_decoder" and "vae_encoder" (the MoVQ)."""
        f = self.vae_scale_factor
        return {"unet": DenoiserGraph(self.unet, self.latent_shape, {"image_embeds": (self.embedding_dim,)}).eval(),
                "vae_decoder": MoVQDecoderGraph(self.movq, self.latent_shape, f).eval(),
                "vae_encoder": MoVQEncoderGraph(self.movq, self.image_size, f).eval()}

    def encode_conditions(self, runtime, embeddings, do_guidance: bool, generator) -> list:
        """``image_embeds``; with guidance the negative embedding's rows come first."""
        if do_guidance:
            negative = self.negative_embedding.to(embeddings.device).expand_as(embeddings)
            embeddings = torch.cat([negative, embeddings])
        return [embeddings]
