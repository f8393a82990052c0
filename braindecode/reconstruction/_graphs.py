"""The pipelines' components as plain tensor-in/tensor-out modules.

The torch runtime calls these modules; the ONNX runtime exports the very same
modules, so both backends compute one function per component. Each graph
names its inputs and gives their shapes per row (``()`` for a per-row scalar,
the timestep, which stays float32 in every runtime).
"""

from __future__ import annotations

import torch
from torch import nn


class ComponentGraph(nn.Module):
    """A module of tensors in, one tensor out, with ``input_names`` and per-row ``input_shapes``."""

    input_names: list
    input_shapes: list

    def output_shape(self, *inputs) -> tuple:
        """Shape of the output for ``inputs``."""
        raise NotImplementedError


class DenoiserGraph(ComponentGraph):
    """One UNet evaluation: ``(sample, timestep, *conditions) -> prediction`` of the sample's shape.

    Parameters
    ----------
    unet : diffusers.UNet2DConditionModel
    latent_shape : tuple of int
        (channels, height, width) of a sample.
    conditions : dict of str -> tuple of int
        The condition inputs by name and per-row shape, among ``encoder_hidden_states`` (tokens the UNet
        attends to), ``class_labels`` (class embeddings) and ``image_embeds`` (``added_cond_kwargs``, the
        image conditioning of Kandinsky 2.2 UNets).

    A UNet that also predicts its variance (twice the sample's channels) gives only its
    first half here: the few-step samplers use a fixed variance.
    """

    CONDITIONS = ("encoder_hidden_states", "class_labels", "image_embeds")

    def __init__(self, unet, latent_shape: tuple, conditions: dict):
        super().__init__()
        unknown = set(conditions) - set(self.CONDITIONS)
        if unknown:
            raise ValueError(f"unknown UNet conditions {sorted(unknown)}")
        self.unet = unet
        self.condition_names = list(conditions)
        self.input_names = ["sample", "timestep", *conditions]
        self.input_shapes = [tuple(latent_shape), (), *map(tuple, conditions.values())]

    def forward(self, sample, timestep, *conditions):
        named = dict(zip(self.condition_names, conditions))
        added = {"image_embeds": named["image_embeds"]} if "image_embeds" in named else None
        output = self.unet(sample, timestep, encoder_hidden_states=named.get("encoder_hidden_states"),
                           class_labels=named.get("class_labels"), added_cond_kwargs=added, return_dict=False)[0]
        return output[:, : sample.shape[1]]

    def output_shape(self, sample, *rest) -> tuple:
        return tuple(sample.shape)


class ProjectorGraph(ComponentGraph):
    """Embeddings of shape (n, d) -> tokens of shape (n, n_tokens, cross_attention_dim)."""

    input_names = ["embeddings"]

    def __init__(self, projector):
        super().__init__()
        self.projector = projector
        self.input_shapes = [(projector.embedding_dim,)]

    def forward(self, embeddings):
        return self.projector(embeddings)

    def output_shape(self, embeddings) -> tuple:
        return (embeddings.shape[0], self.projector.n_tokens, self.projector.cross_attention_dim)


def _shift(vae) -> float:
    return getattr(vae.config, "shift_factor", None) or 0.0


class DecoderGraph(ComponentGraph):
    """Scaled latents (n, c, h, w) -> images (n, 3, h * f, w * f) in about [-1, 1] (VAE decoder).

    Parameters
    ----------
    vae : diffusers.AutoencoderKL or diffusers.AutoencoderTiny
    latent_shape : tuple of int
        (channels, height, width) of the latents.
    scale_factor : int
        Image pixels per latent pixel, per side.
    """

    input_names = ["latents"]

    def __init__(self, vae, latent_shape: tuple, scale_factor: int):
        super().__init__()
        self.vae = vae
        self.scale_factor = scale_factor
        self.input_shapes = [tuple(latent_shape)]

    def forward(self, latents):
        latents = latents / self.vae.config.scaling_factor + _shift(self.vae)
        return self.vae.decode(latents, return_dict=False)[0]

    def output_shape(self, latents) -> tuple:
        f = self.scale_factor
        return (latents.shape[0], self.vae.config.out_channels, latents.shape[2] * f, latents.shape[3] * f)


class EncoderGraph(ComponentGraph):
    """Images (n, 3, H, W) in [-1, 1] -> scaled latents (n, c, H / f, W / f): the posterior mean (KL VAEs)."""

    input_names = ["images"]

    def __init__(self, vae, image_size: tuple, scale_factor: int):
        super().__init__()
        self.vae = vae
        self.scale_factor = scale_factor
        self.input_shapes = [(3, *image_size)]

    def forward(self, images):
        encoded = self.vae.encode(images, return_dict=False)[0]
        latents = encoded if isinstance(encoded, torch.Tensor) else encoded.mean
        return (latents - _shift(self.vae)) * self.vae.config.scaling_factor

    def output_shape(self, images) -> tuple:
        f = self.scale_factor
        return (images.shape[0], self.vae.config.latent_channels, images.shape[2] // f, images.shape[3] // f)


class MoVQDecoderGraph(ComponentGraph):
    """MoVQ latents (n, c, h, w) -> images (n, 3, h * f, w * f) in about [-1, 1], unquantized (Kandinsky 2.2)."""

    input_names = ["latents"]

    def __init__(self, movq, latent_shape: tuple, scale_factor: int):
        super().__init__()
        self.movq = movq
        self.scale_factor = scale_factor
        self.input_shapes = [tuple(latent_shape)]

    def forward(self, latents):
        return self.movq.decode(latents, force_not_quantize=True, return_dict=False)[0]

    def output_shape(self, latents) -> tuple:
        f = self.scale_factor
        return (latents.shape[0], self.movq.config.out_channels, latents.shape[2] * f, latents.shape[3] * f)


class MoVQEncoderGraph(ComponentGraph):
    """Images (n, 3, H, W) in [-1, 1] -> MoVQ latents (n, c, H / f, W / f), before quantization."""

    input_names = ["images"]

    def __init__(self, movq, image_size: tuple, scale_factor: int):
        super().__init__()
        self.movq = movq
        self.scale_factor = scale_factor
        self.input_shapes = [(3, *image_size)]

    def forward(self, images):
        return self.movq.encode(images, return_dict=False)[0]

    def output_shape(self, images) -> tuple:
        f = self.scale_factor
        channels = self.movq.config.vq_embed_dim or self.movq.config.latent_channels
        return (images.shape[0], channels, images.shape[2] // f, images.shape[3] // f)


class PriorGraph(ComponentGraph):
    """Embeddings of shape (n, d) -> coarse latents of shape (n, c, h, w) (the latent prior)."""

    input_names = ["embeddings"]

    def __init__(self, prior):
        super().__init__()
        self.prior = prior
        self.input_shapes = [(prior.embedding_dim,)]

    def forward(self, embeddings):
        return self.prior(embeddings)

    def output_shape(self, embeddings) -> tuple:
        return (embeddings.shape[0],) + tuple(self.prior.values.shape[1:])


def keeps_float32(graph: ComponentGraph, index: int) -> bool:
    """Whether input ``index`` of ``graph`` stays float32 in a float16 runtime (per-row scalars: timesteps)."""
    return graph.input_shapes[index] == ()


class TorchRuntime:
    """Runs the component graphs eagerly in torch.

    Parameters
    ----------
    pipeline : EmbeddingPipeline
    """

    backend = "torch"

    def __init__(self, pipeline):
        self.graphs = pipeline.component_graphs()
        self.dtype = pipeline.dtype

    def run(self, name: str, *inputs: torch.Tensor) -> torch.Tensor:
        """Output of graph ``name`` for ``inputs`` (torch tensors on the pipeline's device), as float32."""
        graph = self.graphs[name]
        with torch.inference_mode():
            cast = [x if keeps_float32(graph, i) else x.to(self.dtype) for i, x in enumerate(inputs)]
            return graph(*cast).float()
