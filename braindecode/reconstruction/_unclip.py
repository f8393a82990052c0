"""Stable unCLIP: a ``StableUnCLIPImg2ImgPipeline`` directory conditioned on noise-augmented CLIP image embeds."""

from __future__ import annotations

import json
import numbers
import pathlib

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.models.embeddings import get_timestep_embedding
from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer
from diffusers.utils.torch_utils import randn_tensor

from braindecode._hf_logging import quiet_loading
from braindecode.errors import InvalidArgument
from braindecode.reconstruction._graphs import DecoderGraph, DenoiserGraph, EncoderGraph
from braindecode.reconstruction._parts import (
    diffusers_scheduler,
    index_encoder,
    load_part,
    one_of,
    part_class,
    read_model_index,
)
from braindecode.reconstruction._pipeline import EmbeddingPipeline

IMAGE_ENCODER = "image_encoder"


def _tokenizer_class(class_name: str):
    import transformers

    return getattr(transformers, class_name) if class_name in ("CLIPTokenizer", "CLIPTokenizerFast") else None


def encode_empty_prompt(tokenizer, text_encoder) -> torch.Tensor:
    """The text encoder's hidden states of the empty prompt, padded to the tokenizer's length: (1, L, D)."""
    inputs = tokenizer("", padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                       return_tensors="pt")
    use_mask = getattr(text_encoder.config, "use_attention_mask", False)
    with torch.inference_mode():
        return text_encoder(inputs.input_ids, attention_mask=inputs.attention_mask if use_mask else None)[0].float()


class StableUnCLIPFamily(EmbeddingPipeline):
    """Stable unCLIP (e.g. stable-diffusion-2-1-unclip) behind the common interface.

    The embeddings are CLIP image embeds (OpenCLIP ViT-H/14, 1024-d, in Stable unCLIP 2.1; the
    directory's ``image_encoder/`` when it has one). As ``StableUnCLIPImg2ImgPipeline`` does with
    ``image_embeds``, each embedding is normalised, noised to ``noise_level`` by the image noising
    scheduler (its noise drawn first from the image's generator), un-normalised and joined with the
    sinusoidal embedding of the noise level; these are the UNet's class labels. The prompt is the
    empty one, encoded once with the directory's text encoder. Guidance runs against zero class labels
    with the same prompt. Init images are encoded by the VAE (posterior mean) and noised to the first
    timestep.

    Parameters
    ----------
    unet : diffusers.UNet2DConditionModel
        With ``class_embed_type="projection"`` on twice the embedding size.
    scheduler : diffusers scheduler
        The noise schedule the UNet was trained with.
    vae : diffusers.AutoencoderKL
    image_normalizer : StableUnCLIPImageNormalizer
    image_noising_scheduler : diffusers scheduler
        Adds the ``noise_level`` noise to the embeddings.
    prompt_embeds : tensor of shape (1, n_tokens, cross_attention_dim)
        The encoded empty prompt (:func:`encode_empty_prompt`).
    sampling : dict, optional
        Recommended sampling settings, ``noise_level`` included (default 0).
    encoder : dict, optional
        ``{"model": ..., "output": ...}``; default the Stable unCLIP 2.1 encoder.
    """

    family = "StableUnCLIPImg2ImgPipeline"
    default_sampling = {"n_steps": 20, "scheduler": "ddim", "guidance_scale": 10.0, "strength": 0.8}
    extra_sampling = {"noise_level": 0}
    max_steps = 100
    default_encoder = {"model": "OpenCLIP ViT-H/14 (image_encoder of stable-diffusion-2-1-unclip)",
                       "output": "image_embeds"}

    def __init__(self, unet, scheduler, vae, image_normalizer, image_noising_scheduler, prompt_embeds,
                 sampling=None, encoder=None):
        config = unet.config
        dim = image_normalizer.config.embedding_dim
        if config.class_embed_type != "projection" or config.projection_class_embeddings_input_dim != 2 * dim:
            raise InvalidArgument(
                f"part 'unet' does not take {dim}-d noise-augmented image embeds: it needs class_embed_type="
                f"'projection' on {2 * dim} inputs, has {config.class_embed_type!r} on "
                f"{config.projection_class_embeddings_input_dim}")
        if tuple(prompt_embeds.shape[::2]) != (1, config.cross_attention_dim):
            raise InvalidArgument(f"part 'text_encoder' makes {prompt_embeds.shape[-1]}-d tokens; the UNet attends "
                                  f"to {config.cross_attention_dim}-d")
        super().__init__(unet, scheduler, vae, dim, sampling, encoder)
        noise_level = self.sampling["noise_level"]
        n_levels = image_noising_scheduler.config.num_train_timesteps
        if (isinstance(noise_level, bool) or not isinstance(noise_level, numbers.Integral)
                or not 0 <= noise_level < n_levels):
            raise InvalidArgument(f"noise_level must be an integer in [0, {n_levels - 1}], got {noise_level!r}")
        self.image_normalizer = image_normalizer.eval()
        self.image_noising_scheduler = image_noising_scheduler
        self.prompt_embeds = prompt_embeds.to(self.device)

    @property
    def vae(self):
        return self.autoencoder

    @property
    def noise_level(self) -> int:
        return int(self.sampling["noise_level"])

    @classmethod
    def from_pretrained(cls, directory, device="cpu", dtype=torch.float32) -> "StableUnCLIPFamily":
        """Load a Stable unCLIP directory; the text encoder encodes the empty prompt and is not kept.

        ``image_encoder/`` and ``feature_extractor/`` are not loaded (the embeddings come decoded); an
        ``image_encoder/`` whose projection size is not the embedding size is refused.
        ``model_index.json`` may hold recommended ``"sampling"`` settings and the ``"encoder"``.
        """
        import transformers

        directory = pathlib.Path(directory)
        index = read_model_index(directory)

        def part(name, resolve, needs):
            return load_part(directory, index, name, resolve, needs, cls.family)

        unet = part("unet", one_of(UNet2DConditionModel), "UNet2DConditionModel")
        scheduler = part("scheduler", diffusers_scheduler, "a diffusers scheduler")
        vae = part("vae", one_of(AutoencoderKL), "AutoencoderKL")
        normalizer = part("image_normalizer", one_of(StableUnCLIPImageNormalizer), "StableUnCLIPImageNormalizer")
        noising = part("image_noising_scheduler", diffusers_scheduler, "a diffusers scheduler")
        tokenizer = part("tokenizer", _tokenizer_class, "CLIPTokenizer")
        text_encoder = part("text_encoder", one_of(transformers.CLIPTextModel), "CLIPTextModel")
        with quiet_loading():
            prompt_embeds = encode_empty_prompt(tokenizer, text_encoder)
        encoder = index_encoder(directory, index) or cls._own_encoder(directory, index, normalizer.config.embedding_dim)
        return cls(unet, scheduler, vae, normalizer, noising, prompt_embeds, index.get("sampling"),
                   encoder).to(device, dtype)

    @classmethod
    def _own_encoder(cls, directory, index, embedding_dim: int):
        """The directory's ``image_encoder/`` as the encoder when it has one of the embedding size, else None."""
        import transformers

        if part_class(directory, index, IMAGE_ENCODER, one_of(transformers.CLIPVisionModelWithProjection),
                      "CLIPVisionModelWithProjection", cls.family) is None:
            return None
        config_path = directory / IMAGE_ENCODER / "config.json"
        try:
            projection_dim = json.loads(config_path.read_text())["projection_dim"]
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidArgument(f"part {IMAGE_ENCODER!r} of {directory} has no readable config: {exc}") from None
        if projection_dim != embedding_dim:
            raise InvalidArgument(f"part {IMAGE_ENCODER!r} of {directory} makes {projection_dim}-d image embeds; the "
                                  f"image normalizer and UNet take {embedding_dim}-d")
        return {"model": str(directory / IMAGE_ENCODER), "output": "image_embeds"}

    def to(self, device=None, dtype=None) -> "StableUnCLIPFamily":
        super().to(device, dtype)
        self.image_normalizer.to(self.device)  # float32: its own ``to`` takes no dtype keyword
        self.prompt_embeds = self.prompt_embeds.to(self.device)
        return self

    def modules(self) -> dict:
        return {"unet": self.unet, "vae": self.vae}

    @property
    def condition_tokens(self) -> int:
        return self.prompt_embeds.shape[1]

    def component_graphs(self) -> dict:
        """The graphs by name: "unet" (prompt tokens and class labels), "vae_decoder" and "vae_encoder"."""
        conditions = {"encoder_hidden_states": tuple(self.prompt_embeds.shape[1:]),
                      "class_labels": (2 * self.embedding_dim,)}
        f = self.vae_scale_factor
        return {"unet": DenoiserGraph(self.unet, self.latent_shape, conditions).eval(),
                "vae_decoder": DecoderGraph(self.vae, self.latent_shape, f).eval(),
                "vae_encoder": EncoderGraph(self.vae, self.image_size, f).eval()}

    def noise_image_embeddings(self, embeddings, generator) -> torch.Tensor:
        """Embeddings (n, d) -> class labels (n, 2d): noised to ``noise_level``, with its timestep embedding."""
        noise = randn_tensor(embeddings.shape, generator=generator, device=embeddings.device, dtype=embeddings.dtype)
        levels = torch.full((len(embeddings),), self.noise_level, device=embeddings.device)
        with torch.inference_mode():
            noised = self.image_noising_scheduler.add_noise(self.image_normalizer.scale(embeddings), noise, levels)
            noised = self.image_normalizer.unscale(noised)
        level_embedding = get_timestep_embedding(levels, self.embedding_dim, flip_sin_to_cos=True,
                                                 downscale_freq_shift=0)
        return torch.cat([noised, level_embedding.to(noised.dtype)], dim=1)

    def encode_conditions(self, runtime, embeddings, do_guidance: bool, generator) -> list:
        """The empty prompt's tokens and the noise-augmented embeddings; with guidance zero class labels first."""
        labels = self.noise_image_embeddings(embeddings, generator)
        if do_guidance:
            labels = torch.cat([torch.zeros_like(labels), labels])
        return [self.prompt_embeds.expand(len(labels), -1, -1), labels]
