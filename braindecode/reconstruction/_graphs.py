"""The pipeline's components as plain tensor-in/tensor-out modules.

The torch runtime calls these modules; the ONNX runtime exports the very same
modules, so both backends compute one function per component.
"""

from __future__ import annotations

import torch
from torch import nn


class DenoiserGraph(nn.Module):
    """One UNet evaluation: ``(sample, timestep[, encoder_hidden_states][, class_labels]) -> output``."""

    def __init__(self, unet, cross_attention: bool, class_conditioning: bool):
        super().__init__()
        self.unet = unet
        self.cross_attention = cross_attention
        self.class_conditioning = class_conditioning
        self.input_names = ["sample", "timestep"]
        self.input_names += ["encoder_hidden_states"] if cross_attention else []
        self.input_names += ["class_labels"] if class_conditioning else []

    def forward(self, *inputs):
        named = dict(zip(self.input_names, inputs))
        return self.unet(named["sample"], named["timestep"], encoder_hidden_states=named.get("encoder_hidden_states"),
                         class_labels=named.get("class_labels"), return_dict=False)[0]

    def output_shape(self, sample, *rest) -> tuple:
        return (sample.shape[0], self.unet.config.out_channels) + tuple(sample.shape[2:])


class ProjectorGraph(nn.Module):
    """Embeddings of shape (n, d) -> tokens of shape (n, n_tokens, cross_attention_dim)."""

    input_names = ["embeddings"]

    def __init__(self, projector):
        super().__init__()
        self.projector = projector

    def forward(self, embeddings):
        return self.projector(embeddings)

    def output_shape(self, embeddings) -> tuple:
        return (embeddings.shape[0], self.projector.n_tokens, self.projector.cross_attention_dim)


def _shift(vae) -> float:
    return getattr(vae.config, "shift_factor", None) or 0.0


class DecoderGraph(nn.Module):
    """Scaled latents (n, c, h, w) -> images (n, 3, h * f, w * f) in about [-1, 1] (VAE decoder)."""

    input_names = ["latents"]

    def __init__(self, vae, scale_factor: int):
        super().__init__()
        self.vae = vae
        self.scale_factor = scale_factor

    def forward(self, latents):
        latents = latents / self.vae.config.scaling_factor + _shift(self.vae)
        return self.vae.decode(latents, return_dict=False)[0]

    def output_shape(self, latents) -> tuple:
        f = self.scale_factor
        return (latents.shape[0], self.vae.config.out_channels, latents.shape[2] * f, latents.shape[3] * f)


class EncoderGraph(nn.Module):
    """Images (n, 3, H, W) in [-1, 1] -> scaled latents (n, c, H / f, W / f): the posterior mean (KL VAEs)."""

    input_names = ["images"]

    def __init__(self, vae, scale_factor: int):
        super().__init__()
        self.vae = vae
        self.scale_factor = scale_factor

    def forward(self, images):
        encoded = self.vae.encode(images, return_dict=False)[0]
        latents = encoded if isinstance(encoded, torch.Tensor) else encoded.mean
        return (latents - _shift(self.vae)) * self.vae.config.scaling_factor

    def output_shape(self, images) -> tuple:
        f = self.scale_factor
        return (images.shape[0], self.vae.config.latent_channels, images.shape[2] // f, images.shape[3] // f)


class PriorGraph(nn.Module):
    """Embeddings of shape (n, d) -> coarse latents of shape (n, c, h, w) (the latent prior)."""

    input_names = ["embeddings"]

    def __init__(self, prior):
        super().__init__()
        self.prior = prior

    def forward(self, embeddings):
        return self.prior(embeddings)

    def output_shape(self, embeddings) -> tuple:
        return (embeddings.shape[0],) + tuple(self.prior.values.shape[1:])


def component_graphs(pipeline) -> dict:
    """The graphs of a pipeline by name: "unet", "projector", "vae_decoder", "vae_encoder", "prior" (those it has)."""
    graphs = {"unet": DenoiserGraph(pipeline.unet, pipeline.cross_attention, pipeline.class_conditioning)}
    if pipeline.projector is not None:
        graphs["projector"] = ProjectorGraph(pipeline.projector)
    if pipeline.vae is not None:
        graphs["vae_decoder"] = DecoderGraph(pipeline.vae, pipeline.vae_scale_factor)
        graphs["vae_encoder"] = EncoderGraph(pipeline.vae, pipeline.vae_scale_factor)
    if pipeline.prior is not None:
        graphs["prior"] = PriorGraph(pipeline.prior)
    return {name: graph.eval() for name, graph in graphs.items()}


class TorchRuntime:
    """Runs the component graphs eagerly in torch.

    Parameters
    ----------
    pipeline : ReconstructionPipeline
    """

    backend = "torch"

    def __init__(self, pipeline):
        self.graphs = component_graphs(pipeline)
        self.dtype = pipeline.dtype

    def run(self, name: str, *inputs: torch.Tensor) -> torch.Tensor:
        """Output of graph ``name`` for ``inputs`` (torch tensors on the pipeline's device), as float32."""
        with torch.inference_mode():
            cast = [x if name == "unet" and i == 1 else x.to(self.dtype) for i, x in enumerate(inputs)]
            return self.graphs[name](*cast).float()
