"""braindecode's own family: a UNet conditioned through a condition projector and class embeds, a latent prior."""

from __future__ import annotations

import json
import pathlib

import diffusers
import torch
from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel

from braindecode.errors import InvalidArgument
from braindecode.reconstruction._graphs import (
    DecoderGraph,
    DenoiserGraph,
    EncoderGraph,
    PriorGraph,
    ProjectorGraph,
)
from braindecode.reconstruction._parts import (
    diffusers_scheduler,
    index_encoder,
    load_part,
    one_of,
    read_model_index,
)
from braindecode.reconstruction._pipeline import EmbeddingPipeline
from braindecode.reconstruction._prior import LatentPrior
from braindecode.reconstruction._projector import ConditionProjector

#: Sampling settings of a model directory that recommends none (``"sampling"`` in ``model_index.json``).
DEFAULT_SAMPLING = {"n_steps": 4, "scheduler": "lcm", "guidance_scale": 1.0, "strength": 0.75}
VAE_CLASSES = (AutoencoderKL, AutoencoderTiny)


class ReconstructionPipeline(EmbeddingPipeline):
    """Reconstruct images from embeddings with a conditioned UNet, a scheduler and an optional VAE.

    The embedding conditions the UNet in one or both of two ways, read from
    the UNet's config: cross-attention on the tokens of a
    :class:`ConditionProjector` (UNets with cross-attention blocks), and
    unCLIP-style image embeds added to the time embedding
    (``class_embed_type="projection"``). Without a VAE the UNet works in pixel
    space. The all-zero embedding is the null condition of classifier-free
    guidance. A :class:`LatentPrior` adds a low-level path: without an init,
    sampling starts from its coarse latents at ``strength`` (img2img). The
    ``sampling`` settings a model directory recommends fill in the arguments a
    caller leaves out.

    Parameters
    ----------
    unet : diffusers.UNet2DConditionModel
    scheduler : diffusers scheduler
        Holds the noise schedule the UNet was trained with; sampling builds an
        LCM, DDIM or Euler scheduler from its config.
    projector : ConditionProjector, optional
        Needed when the UNet has cross-attention blocks.
    vae : diffusers.AutoencoderKL or diffusers.AutoencoderTiny, optional
        Latent-space models only.
    prior : LatentPrior, optional
        Predicts coarse latents from the embeddings (MindEye / Brain-Diffuser low-level path).
    sampling : dict, optional
        Recommended ``n_steps``, ``scheduler``, ``guidance_scale`` and ``strength`` (any of them);
        the others come from :data:`DEFAULT_SAMPLING`.
    encoder : dict, optional
        ``{"model": ..., "output": ...}``: the image encoder and layer whose embeddings the model was
        trained on (e.g. ``{"model": "efficientnet-lite0", "output": "pool"}``).
    """

    family = "ReconstructionPipeline"
    default_sampling = DEFAULT_SAMPLING

    def __init__(self, unet, scheduler, projector=None, vae=None, prior=None, sampling=None, encoder=None):
        config = unet.config
        blocks = list(config.down_block_types) + list(config.up_block_types) + [config.mid_block_type or ""]
        self.cross_attention = any("CrossAttn" in block for block in blocks)
        if config.class_embed_type not in (None, "projection"):
            raise InvalidArgument(f"unsupported class_embed_type {config.class_embed_type!r}; use 'projection'")
        self.class_conditioning = config.class_embed_type == "projection"
        if not (self.cross_attention or self.class_conditioning):
            raise InvalidArgument("the UNet takes no condition: it needs cross-attention blocks or class_embed_type='projection'")
        if self.cross_attention and projector is None:
            raise InvalidArgument("a UNet with cross-attention needs a ConditionProjector")
        if projector is not None and projector.cross_attention_dim != config.cross_attention_dim:
            raise InvalidArgument(
                f"projector makes {projector.cross_attention_dim}-d tokens, the UNet attends to {config.cross_attention_dim}-d"
            )
        dims = {projector.embedding_dim} if self.cross_attention else set()
        dims |= {config.projection_class_embeddings_input_dim} if self.class_conditioning else set()
        if len(dims) != 1:
            raise InvalidArgument(f"projector and UNet class projection expect different embedding sizes {sorted(dims)}")
        self.projector = projector.eval() if projector is not None else None
        self.prior = prior.eval() if prior is not None else None
        super().__init__(unet, scheduler, vae, dims.pop(), sampling, encoder)
        if prior is not None and (prior.embedding_dim != self.embedding_dim
                                  or tuple(prior.values.shape[1:]) != self.latent_shape):
            raise InvalidArgument(
                f"prior maps {prior.embedding_dim}-d embeddings to {tuple(prior.values.shape[1:])} latents; the "
                f"pipeline needs {self.embedding_dim}-d to {self.latent_shape}"
            )

    @property
    def vae(self):
        return self.autoencoder

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, directory, device="cpu", dtype=torch.float32) -> "ReconstructionPipeline":
        """Load a pipeline directory: ``model_index.json``, ``unet/``, ``scheduler/``, optional ``projector/``,
        ``vae/`` and ``prior/``.

        The UNet and VAE are diffusers-format folders (``config.json`` plus
        weights); the projector and prior are our safetensors + JSON pairs.
        ``model_index.json`` names each part's class (null: no such part) and may hold the
        recommended ``"sampling"`` settings and the ``"encoder"`` of the conditioning space.
        """
        directory = pathlib.Path(directory)
        index = read_model_index(directory)

        def part(name, resolve, needs, required=False):
            return load_part(directory, index, name, resolve, needs, cls.family, required)

        unet = part("unet", one_of(UNet2DConditionModel), "UNet2DConditionModel", required=True)
        scheduler = part("scheduler", diffusers_scheduler, "a diffusers scheduler", required=True)
        projector = part("projector", one_of(ConditionProjector), "ConditionProjector")
        vae = part("vae", one_of(*VAE_CLASSES), " or ".join(c.__name__ for c in VAE_CLASSES))
        prior = part("prior", one_of(LatentPrior), "LatentPrior")
        return cls(unet, scheduler, projector, vae, prior, index.get("sampling"),
                   index_encoder(directory, index)).to(device, dtype)

    def save_pretrained(self, directory) -> None:
        """Write the pipeline in the layout :meth:`from_pretrained` reads."""
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.unet.save_pretrained(directory / "unet")
        self.scheduler.save_pretrained(directory / "scheduler")
        if self.projector is not None:
            self.projector.save_pretrained(directory / "projector")
        if self.vae is not None:
            self.vae.save_pretrained(directory / "vae")
        if self.prior is not None:
            self.prior.save_pretrained(directory / "prior")
        index = {"_class_name": self.family, "_diffusers_version": diffusers.__version__,
                 "unet": ["diffusers", type(self.unet).__name__],
                 "scheduler": ["diffusers", type(self.scheduler).__name__],
                 "projector": ["braindecode", "ConditionProjector"] if self.projector is not None else None,
                 "vae": ["diffusers", type(self.vae).__name__] if self.vae is not None else None,
                 "prior": ["braindecode", "LatentPrior"] if self.prior is not None else None,
                 "sampling": self.sampling}
        if self.encoder != self.default_encoder:
            index["encoder"] = self.encoder
        (directory / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")

    # ------------------------------------------------------------ family hooks
    def modules(self) -> dict:
        parts = {"unet": self.unet, "projector": self.projector, "vae": self.vae, "prior": self.prior}
        return {name: module for name, module in parts.items() if module is not None}

    @property
    def condition_tokens(self) -> int:
        return self.projector.n_tokens if self.projector is not None else 0

    def component_graphs(self) -> dict:
        """The graphs by name: "unet", "projector", "vae_decoder", "vae_encoder", "prior" (those it has)."""
        conditions = {"encoder_hidden_states": (self.projector.n_tokens, self.projector.cross_attention_dim)
                      } if self.cross_attention else {}
        conditions |= {"class_labels": (self.embedding_dim,)} if self.class_conditioning else {}
        graphs = {"unet": DenoiserGraph(self.unet, self.latent_shape, conditions)}
        if self.projector is not None:
            graphs["projector"] = ProjectorGraph(self.projector)
        if self.vae is not None:
            graphs["vae_decoder"] = DecoderGraph(self.vae, self.latent_shape, self.vae_scale_factor)
            graphs["vae_encoder"] = EncoderGraph(self.vae, self.image_size, self.vae_scale_factor)
        if self.prior is not None:
            graphs["prior"] = PriorGraph(self.prior)
        return {name: graph.eval() for name, graph in graphs.items()}

    def encode_conditions(self, runtime, embeddings, do_guidance: bool, generator) -> list:
        """Projector tokens and/or class embeds; with guidance the null (zero) condition comes first."""
        if do_guidance:
            embeddings = torch.cat([torch.zeros_like(embeddings), embeddings])
        conditions = [runtime.run("projector", embeddings)] if self.cross_attention else []
        return conditions + ([embeddings] if self.class_conditioning else [])

    def coarse_latents(self, runtime, embeddings, strength: float):
        """The latent prior's prediction, below strength 1."""
        return runtime.run("prior", embeddings) if self.prior is not None and strength < 1 else None
