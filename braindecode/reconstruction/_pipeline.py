"""The interface of every reconstruction model family: image embeddings in, images out.

:class:`EmbeddingPipeline` holds what the families share: checks, the sampling
settings, the torch and ONNX runtimes, the denoising loop with classifier-free
guidance and img2img. A family says how an embedding conditions its UNet
(:meth:`~EmbeddingPipeline.encode_conditions`), which component graphs it has
and how its directory loads.
"""

from __future__ import annotations

import dataclasses
import json
import numbers

import diffusers
import numpy as np
import torch

from braindecode._hf_logging import quiet_loading
from braindecode.errors import InvalidArgument
from braindecode.reconstruction._graphs import TorchRuntime
from braindecode.reconstruction._schedulers import MAX_STEPS, SCHEDULERS, make_scheduler, set_timesteps

BACKENDS = ("torch", "onnx")
SAMPLING_KEYS = ("n_steps", "scheduler", "guidance_scale", "strength")
"""The sampling settings of every family (a family may recommend its own beyond them)."""


@dataclasses.dataclass(frozen=True)
class ModelDescription:
    """What a reconstruction model takes and makes.

    Attributes
    ----------
    family : str
        The ``_class_name`` of its ``model_index.json``, e.g. "KandinskyV22Pipeline".
    embedding_dim : int
        Size of the embeddings it is conditioned on.
    encoder : str
        The image encoder whose embeddings define that space: a registry name or a directory
        ``braindecode.activations.load_model`` reads, or the name of the published encoder.
    encoder_output : str
        The encoder output (layer) that gives the embeddings, e.g. "image_embeds".
    image_size : tuple of int
        (height, width) of the images.
    sampling : dict
        Recommended ``n_steps``, ``scheduler``, ``guidance_scale`` and ``strength`` (and a family's own
        settings, e.g. ``noise_level``).
    max_steps : int
        Most denoising steps a call may ask for.
    """

    family: str
    embedding_dim: int
    encoder: str
    encoder_output: str
    image_size: tuple
    sampling: dict
    max_steps: int

    def to_dict(self) -> dict:
        """A JSON-serializable dict of the fields."""
        return dataclasses.asdict(self) | {"image_size": list(self.image_size)}


def autoencoder_latent_channels(autoencoder) -> int:
    """Channels of the latents an autoencoder decodes (a VQ model's embedding size)."""
    config = autoencoder.config
    return getattr(config, "vq_embed_dim", None) or config.latent_channels


class EmbeddingPipeline:
    """A diffusion pipeline that turns image embeddings into images: the interface of every family.

    Subclasses set the class attributes, implement :meth:`encode_conditions`,
    :meth:`component_graphs`, :meth:`modules` and ``from_pretrained``, and may override
    :meth:`coarse_latents`.

    Parameters
    ----------
    unet : diffusers.UNet2DConditionModel
    scheduler : diffusers scheduler
        Holds the noise schedule the UNet was trained with; sampling builds an
        LCM, DDIM or Euler scheduler from its config.
    autoencoder : diffusers autoencoder, optional
        Decodes the UNet's latents into images; None for pixel-space UNets.
    embedding_dim : int
        Size of the conditioning embeddings.
    sampling : dict, optional
        Recommended sampling settings (any of :data:`SAMPLING_KEYS` and the family's
        ``extra_sampling``); the others come from ``default_sampling``.
    encoder : dict, optional
        ``{"model": ..., "output": ...}``: the image encoder whose embeddings condition the model;
        default ``default_encoder``.
    """

    #: The ``_class_name`` of the family's ``model_index.json``.
    family = ""
    #: Sampling settings of a model directory that recommends none.
    default_sampling = {}
    #: The family's own sampling settings beyond :data:`SAMPLING_KEYS`, with their defaults.
    extra_sampling = {}
    max_steps = MAX_STEPS
    default_encoder = {"model": "not stated", "output": "not stated"}
    #: Image side when the UNet config gives no ``sample_size``.
    default_image_side = None

    def __init__(self, unet, scheduler, autoencoder, embedding_dim: int, sampling=None, encoder=None):
        self.unet = unet.eval()
        self.scheduler = scheduler
        self.autoencoder = autoencoder.eval() if autoencoder is not None else None
        self.embedding_dim = int(embedding_dim)
        if autoencoder is not None and autoencoder_latent_channels(autoencoder) != unet.config.in_channels:
            raise InvalidArgument(f"the autoencoder has {autoencoder_latent_channels(autoencoder)} latent channels, "
                                  f"the UNet {unet.config.in_channels}")
        if sampling is not None and not isinstance(sampling, dict):
            raise InvalidArgument(f"sampling must be a mapping of settings, got {sampling!r}")
        allowed = {*SAMPLING_KEYS, *self.extra_sampling}
        unknown = set(sampling or {}) - allowed
        if unknown:
            raise InvalidArgument(f"unknown sampling settings {sorted(unknown)}; use {', '.join(sorted(allowed))}")
        given = {name: value for name, value in (sampling or {}).items() if value is not None}
        recommended = self.default_sampling | self.extra_sampling | given
        self.sampling = _checked_sampling({k: recommended[k] for k in SAMPLING_KEYS}, self.max_steps)
        self.sampling |= {k: recommended[k] for k in self.extra_sampling}
        encoder = encoder or self.default_encoder
        if not isinstance(encoder, dict) or set(encoder) != {"model", "output"}:
            raise InvalidArgument(f"encoder must be a mapping of 'model' and 'output', got {encoder!r}")
        self.encoder = {"model": str(encoder["model"]), "output": str(encoder["output"])}
        self._runtimes = {}

    # ------------------------------------------------------------ family hooks
    def modules(self) -> dict:
        """The torch modules of the model by part name (weights that move with :meth:`to`)."""
        raise NotImplementedError

    def component_graphs(self) -> dict:
        """The component graphs by name: "unet", "vae_decoder", "vae_encoder" and the family's own."""
        raise NotImplementedError

    def encode_conditions(self, runtime, embeddings, do_guidance: bool, generator) -> list:
        """The condition inputs of the denoiser for embeddings (n, d); with guidance the null condition
        rows come first (2n rows)."""
        raise NotImplementedError

    def coarse_latents(self, runtime, embeddings, strength: float):
        """Latents to start img2img from when the caller gives no init (a latent prior); None by default."""
        return None

    @property
    def condition_tokens(self) -> int:
        """Tokens the UNet's cross-attention attends to, per row (0 without cross-attention)."""
        return 0

    # ------------------------------------------------------------------ common
    def to(self, device=None, dtype=None) -> "EmbeddingPipeline":
        """Move the modules to ``device`` / ``dtype`` (in place); returns self."""
        with quiet_loading():  # not diffusers' notice on casting modules it would keep in float32
            for module in self.modules().values():
                module.to(device=device, dtype=dtype)
        self._runtimes.clear()
        return self

    @property
    def device(self) -> torch.device:
        return self.unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @property
    def latent_channels(self) -> int:
        return self.unet.config.in_channels

    @property
    def vae_scale_factor(self) -> int:
        """Image pixels per latent pixel, per side (1 without an autoencoder)."""
        if self.autoencoder is None:
            return 1
        config = self.autoencoder.config
        return 2 ** (len(getattr(config, "block_out_channels", None) or config.encoder_block_out_channels) - 1)

    @property
    def latent_size(self) -> tuple:
        size = self.unet.config.sample_size
        if size is None:
            size = self.default_image_side // self.vae_scale_factor
        return (size, size) if isinstance(size, numbers.Integral) else tuple(size)

    @property
    def latent_shape(self) -> tuple:
        return (self.latent_channels, *self.latent_size)

    @property
    def image_size(self) -> tuple:
        """(height, width) of the images the pipeline makes."""
        return tuple(s * self.vae_scale_factor for s in self.latent_size)

    def describe(self) -> ModelDescription:
        """The model's family, conditioning space, image size and recommended sampling."""
        return ModelDescription(self.family, self.embedding_dim, self.encoder["model"], self.encoder["output"],
                                self.image_size, dict(self.sampling), self.max_steps)

    def runtime(self, backend: str = "torch", **options):
        """The torch runtime or an ONNX Runtime one (exported once, cached) on the pipeline's device.

        ``options`` go to :class:`OnnxRuntime` (``cache_dir``, ``fp16``, ``tensorrt``, ``threads``).
        Runtimes are kept until :meth:`to` or :meth:`reset_runtimes`; call the
        latter after changing weights in place.
        """
        if backend not in BACKENDS:
            raise InvalidArgument(f"unknown backend {backend!r}; use {' or '.join(map(repr, BACKENDS))}")
        key = (backend, json.dumps(options, sort_keys=True, default=str))
        if key not in self._runtimes:
            if backend == "torch":
                self._runtimes[key] = TorchRuntime(self)
            else:
                from braindecode.reconstruction._onnx import OnnxRuntime

                self._runtimes[key] = OnnxRuntime(self, device=self.device, **options)
        return self._runtimes[key]

    def reset_runtimes(self) -> None:
        """Forget the cached runtimes (ONNX exports are re-checked against the weights' hash)."""
        self._runtimes.clear()

    def example_inputs(self, name: str, batch: int = 2, dtype=torch.float32) -> list:
        """Example inputs of component graph ``name`` with ``batch`` rows (for export and tests)."""
        graphs = self.component_graphs()
        if name not in graphs:
            raise InvalidArgument(f"unknown component {name!r}; this model has {', '.join(graphs)}")
        g = torch.Generator().manual_seed(0)
        return [torch.full((batch,), 500.0) if shape == () else torch.randn((batch, *shape), generator=g, dtype=dtype)
                for shape in graphs[name].input_shapes]

    # ------------------------------------------------------------- named steps
    def sampling_settings(self, n_steps=None, scheduler=None, guidance_scale=None, strength=None) -> dict:
        """The given sampling settings, checked, with the model's recommended ones in place of None.

        Returns
        -------
        settings : dict
            ``n_steps``, ``scheduler``, ``guidance_scale`` and ``strength``.
        """
        given = {"n_steps": n_steps, "scheduler": scheduler, "guidance_scale": guidance_scale, "strength": strength}
        return _checked_sampling({name: self.sampling[name] if value is None else value
                                  for name, value in given.items()}, self.max_steps)

    def check_embeddings(self, embeddings) -> np.ndarray:
        """Embeddings of shape (n, embedding_dim), finite, none all zeros; InvalidArgument otherwise."""
        emb = np.asarray(embeddings)
        d = self.embedding_dim
        if emb.ndim != 2 or emb.shape[0] < 1:
            raise InvalidArgument(f"embeddings must have shape (n, {d}), got shape {emb.shape}")
        if emb.shape[1] != d:
            raise InvalidArgument(f"embeddings must have shape (n, {d}): the model takes {d}-dimensional embeddings "
                                  f"({self.encoder['model']} {self.encoder['output']}), got {emb.shape[1]}-dimensional")
        if not np.issubdtype(emb.dtype, np.number) or not np.all(np.isfinite(emb)):
            raise InvalidArgument("embeddings must be finite numbers (no NaN or infinity)")
        zero = np.flatnonzero(~emb.any(axis=1))
        if len(zero):
            raise InvalidArgument(f"embedding {int(zero[0])} is all zeros: that is the null condition of guidance, "
                                  "not the embedding of an image")
        return emb

    def check_inputs(self, embeddings, n_steps, scheduler, guidance_scale, strength, init_images, init_latents,
                     generator) -> tuple:
        """Validate the arguments of :meth:`__call__` (None: the recommended setting); return embeddings and
        init as float32 tensors."""
        emb = self.check_embeddings(embeddings)
        n = emb.shape[0]
        self.sampling_settings(n_steps, scheduler, guidance_scale, strength)
        if init_images is not None and init_latents is not None:
            raise InvalidArgument("give init_images or init_latents, not both")
        if isinstance(generator, list) and len(generator) != n:
            raise InvalidArgument(f"{len(generator)} generators for {n} embeddings")
        init = None
        if init_images is not None:
            init = _images_to_tensor(init_images, (n,) + self.image_size + (3,))
        elif init_latents is not None:
            shape = (n, *self.latent_shape)
            init = torch.as_tensor(np.asarray(init_latents, dtype=np.float32))
            if tuple(init.shape) != shape or not torch.isfinite(init).all():
                raise InvalidArgument(f"init_latents must be finite with shape {shape}, got {tuple(init.shape)}")
        return torch.as_tensor(emb, dtype=torch.float32), init

    def encode_images(self, runtime, images) -> torch.Tensor:
        """Images (n, 3, H, W) in [-1, 1] -> the UNet's input space (latents, or the pixels themselves)."""
        return runtime.run("vae_encoder", images) if self.autoencoder is not None else images

    def prepare_latents(self, scheduler, timesteps, n, generator, init_latents=None) -> torch.Tensor:
        """Starting latents: scaled noise, or ``init_latents`` noised to the first timestep (img2img)."""
        noise = diffusers.utils.torch_utils.randn_tensor((n, *self.latent_shape), generator=generator,
                                                         device=self.device, dtype=torch.float32)
        if init_latents is None:
            return noise * scheduler.init_noise_sigma
        return scheduler.add_noise(init_latents.to(self.device), noise, timesteps[:1].repeat(n))

    def decode_latents(self, runtime, latents) -> np.ndarray:
        """Latents -> float images of shape (n, H, W, 3) in [0, 1]."""
        images = runtime.run("vae_decoder", latents) if self.autoencoder is not None else latents
        return (images / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy().astype(np.float32)

    def __call__(self, embeddings, n_steps: int | None = None, scheduler: str | None = None,
                 guidance_scale: float | None = None, generator=None, init_images=None, init_latents=None,
                 strength: float | None = None, backend: str = "torch", progress=None, output_type: str = "uint8",
                 **runtime_options):
        """Generate one image per embedding.

        ``n_steps``, ``scheduler``, ``guidance_scale`` and ``strength`` left at None take the
        model's recommended values (:attr:`sampling`).

        Parameters
        ----------
        embeddings : array of shape (n, d)
            Decoded (or true) image embeddings; they replace a text prompt.
        n_steps : int, optional
            Denoising steps, 1 to :attr:`max_steps`.
        scheduler : {"lcm", "ddim", "euler"}, optional
        guidance_scale : float, optional
            Classifier-free guidance against the family's null condition; 1 turns it off.
        generator : torch.Generator or list of n torch.Generator, optional
            One generator per image makes each image independent of its batch.
        init_images : array of shape (n, H, W, 3), optional
            Coarse images to start from (uint8, or float in [0, 1]) -- img2img.
        init_latents : array of shape (n, c, h, w), optional
            Or start from predicted latents (the UNet's input space).
        strength : float in [0, 1], optional
            With an init (or a family's coarse latents): the noise level to start from (0 returns the
            init, 1 starts from pure noise). The run makes ``n_steps`` steps, the last ones of a
            ``ceil(n_steps / strength)``-step schedule (LCM: inside its first ``strength``).
        backend : {"torch", "onnx"}
        progress : callable(done, total), optional
            Called after each denoising step.
        output_type : {"uint8", "float"}
            uint8 images, or float32 in [0, 1].
        **runtime_options
            Passed to the ONNX runtime (``cache_dir``, ``fp16``, ``tensorrt``, ``threads``).

        Returns
        -------
        images : array of shape (n, H, W, 3)
        """
        emb, init = self.check_inputs(embeddings, n_steps, scheduler, guidance_scale, strength, init_images,
                                      init_latents, generator)
        n_steps, scheduler, guidance_scale, strength = self.sampling_settings(
            n_steps, scheduler, guidance_scale, strength).values()
        if output_type not in ("uint8", "float"):
            raise InvalidArgument(f"output_type must be 'uint8' or 'float', got {output_type!r}")
        runtime = self.runtime(backend, **runtime_options)
        emb = emb.to(self.device)
        sampler = make_scheduler(scheduler, self.scheduler.config)
        if init is not None and init_images is not None:
            init = self.encode_images(runtime, init.to(self.device))
        elif init is None:
            init = self.coarse_latents(runtime, emb, strength)
        timesteps = [] if init is not None and strength == 0 else set_timesteps(
            sampler, n_steps, strength if init is not None else 1.0, self.device)
        if len(timesteps):
            do_guidance = guidance_scale > 1
            conditions = self.encode_conditions(runtime, emb, do_guidance, generator)
            latents = self.prepare_latents(sampler, timesteps, len(emb), generator, init)
            for i, t in enumerate(timesteps):
                latents = self.denoise_step(runtime, sampler, latents, t, conditions, guidance_scale, generator)
                if progress is not None:
                    progress(i + 1, len(timesteps))
        else:
            latents = init.to(self.device)
        images = self.decode_latents(runtime, latents)
        return np.round(images * 255).astype(np.uint8) if output_type == "uint8" else images

    def denoise_step(self, runtime, scheduler, latents, t, conditions, guidance_scale, generator) -> torch.Tensor:
        """One scheduler step, with classifier-free guidance when ``guidance_scale > 1``."""
        do_guidance = guidance_scale > 1
        model_input = torch.cat([latents, latents]) if do_guidance else latents
        model_input = scheduler.scale_model_input(model_input, t)
        timestep = torch.as_tensor(t, dtype=torch.float32, device=self.device).reshape(1).repeat(len(model_input))
        output = runtime.run("unet", model_input, timestep, *conditions)
        if do_guidance:
            uncond, cond = output.chunk(2)
            output = uncond + guidance_scale * (cond - uncond)
        return scheduler.step(output, t, latents, generator=generator, return_dict=False)[0]


def _checked_sampling(settings: dict, max_steps: int) -> dict:
    """``n_steps``, ``scheduler``, ``guidance_scale`` and ``strength``, checked and normalised."""
    n_steps, scheduler, guidance_scale, strength = (settings[k] for k in SAMPLING_KEYS)
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or not 1 <= n_steps <= max_steps:
        raise InvalidArgument(f"n_steps must be an integer in [1, {max_steps}], got {n_steps!r}")
    if scheduler not in SCHEDULERS:
        raise InvalidArgument(f"unknown scheduler {scheduler!r}; use one of {', '.join(SCHEDULERS)}")
    if not _is_real(guidance_scale) or not guidance_scale >= 1:
        raise InvalidArgument(f"guidance_scale must be a number >= 1 (1 turns guidance off), got {guidance_scale!r}")
    if not _is_real(strength) or not 0.0 <= strength <= 1.0:
        raise InvalidArgument(f"strength must be a number in [0, 1], got {strength!r}")
    return {"n_steps": int(n_steps), "scheduler": scheduler, "guidance_scale": float(guidance_scale),
            "strength": float(strength)}


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))


def _images_to_tensor(images, shape) -> torch.Tensor:
    """uint8 images or floats in [0, 1] of shape (n, H, W, 3) -> float tensor (n, 3, H, W) in [-1, 1]."""
    arr = np.asarray(images)
    if arr.shape != shape:
        raise InvalidArgument(f"init_images must have shape {shape} (one {shape[1]} x {shape[2]} RGB image per "
                              f"embedding), got {arr.shape}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise InvalidArgument("init_images must be uint8 or finite floats in [0, 1]")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(0, 3, 1, 2) * 2 - 1
