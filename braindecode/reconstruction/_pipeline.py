"""A diffusion pipeline conditioned on image embeddings instead of a text prompt."""

from __future__ import annotations

import contextlib
import json
import numbers
import pathlib

import diffusers
import numpy as np
import torch
from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel

from braindecode.errors import InvalidArgument, NotFound
from braindecode.reconstruction._graphs import TorchRuntime
from braindecode.reconstruction._prior import LatentPrior
from braindecode.reconstruction._projector import ConditionProjector
from braindecode.reconstruction._schedulers import MAX_STEPS, SCHEDULERS, make_scheduler, set_timesteps

BACKENDS = ("torch", "onnx")
#: Sampling settings of a model directory that recommends none (``"sampling"`` in ``model_index.json``).
DEFAULT_SAMPLING = {"n_steps": 4, "scheduler": "lcm", "guidance_scale": 1.0, "strength": 0.75}
VAE_CLASSES = {"AutoencoderKL": AutoencoderKL, "AutoencoderTiny": AutoencoderTiny}


@contextlib.contextmanager
def _diffusers_errors_only():
    """diffusers logs errors only inside the context."""
    level = diffusers.utils.logging.get_verbosity()
    diffusers.utils.logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers.utils.logging.set_verbosity(level)


class ReconstructionPipeline:
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
    """

    def __init__(self, unet, scheduler, projector=None, vae=None, prior=None, sampling=None):
        self.unet = unet.eval()
        self.scheduler = scheduler
        self.projector = projector.eval() if projector is not None else None
        self.vae = vae.eval() if vae is not None else None
        self.prior = prior.eval() if prior is not None else None
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
        self.embedding_dim = dims.pop()
        if vae is not None and vae.config.latent_channels != config.in_channels:
            raise InvalidArgument(f"VAE has {vae.config.latent_channels} latent channels, the UNet {config.in_channels}")
        if prior is not None and (prior.embedding_dim != self.embedding_dim
                                  or tuple(prior.values.shape[1:]) != (config.in_channels,) + self.latent_size):
            raise InvalidArgument(
                f"prior maps {prior.embedding_dim}-d embeddings to {tuple(prior.values.shape[1:])} latents; the "
                f"pipeline needs {self.embedding_dim}-d to {(config.in_channels,) + self.latent_size}"
            )
        unknown = set(sampling or {}) - set(DEFAULT_SAMPLING)
        if unknown:
            raise InvalidArgument(f"unknown sampling settings {sorted(unknown)}; use {', '.join(DEFAULT_SAMPLING)}")
        given = {name: value for name, value in (sampling or {}).items() if value is not None}
        self.sampling = self.sampling_settings(**(DEFAULT_SAMPLING | given))
        self._runtimes = {}

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, directory, device="cpu", dtype=torch.float32) -> "ReconstructionPipeline":
        """Load a pipeline directory: ``unet/``, ``scheduler/``, optional ``projector/``, ``vae/`` and ``prior/``.

        The UNet and VAE are diffusers-format folders (``config.json`` plus
        weights), so any local diffusers model directory with a compatible
        UNet loads; the projector is our safetensors + JSON pair. The
        ``"sampling"`` entry of ``model_index.json``, where there is one, holds
        the recommended sampling settings.
        """
        directory = pathlib.Path(directory)
        for part in ("unet", "scheduler"):
            if not (directory / part).is_dir():
                raise NotFound(f"{directory} is not a reconstruction model: no {part}/ folder")
        with _diffusers_errors_only():  # not its notices (accelerate missing, dtype casts)
            unet = UNet2DConditionModel.from_pretrained(directory / "unet")
            scheduler_config = json.loads((directory / "scheduler" / "scheduler_config.json").read_text())
            scheduler_cls = getattr(diffusers, scheduler_config.get("_class_name", ""), None)
            if not (isinstance(scheduler_cls, type) and issubclass(scheduler_cls, diffusers.SchedulerMixin)):
                raise InvalidArgument(f"unknown scheduler class {scheduler_config.get('_class_name')!r} in {directory}")
            scheduler = scheduler_cls.from_config(scheduler_config)
            projector = (ConditionProjector.from_pretrained(directory / "projector")
                         if (directory / "projector").is_dir() else None)
            vae = None
            if (directory / "vae").is_dir():
                vae_class = json.loads((directory / "vae" / "config.json").read_text()).get("_class_name")
                if vae_class not in VAE_CLASSES:
                    raise InvalidArgument(f"unsupported VAE class {vae_class!r} in {directory}; "
                                          f"use {', '.join(VAE_CLASSES)}")
                vae = VAE_CLASSES[vae_class].from_pretrained(directory / "vae")
            prior = LatentPrior.from_pretrained(directory / "prior") if (directory / "prior").is_dir() else None
            index = directory / "model_index.json"
            sampling = json.loads(index.read_text()).get("sampling") if index.is_file() else None
            return cls(unet, scheduler, projector, vae, prior, sampling).to(device, dtype)

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
        index = {"_class_name": type(self).__name__, "_diffusers_version": diffusers.__version__,
                 "unet": ["diffusers", type(self.unet).__name__],
                 "scheduler": ["diffusers", type(self.scheduler).__name__],
                 "projector": ["braindecode", "ConditionProjector"] if self.projector is not None else None,
                 "vae": ["diffusers", type(self.vae).__name__] if self.vae is not None else None,
                 "prior": ["braindecode", "LatentPrior"] if self.prior is not None else None,
                 "sampling": self.sampling}
        (directory / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")

    def to(self, device=None, dtype=None) -> "ReconstructionPipeline":
        """Move the modules to ``device`` / ``dtype`` (in place); returns self."""
        for module in (self.unet, self.projector, self.vae, self.prior):
            if module is not None:
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
    def vae_scale_factor(self) -> int:
        if self.vae is None:
            return 1
        config = self.vae.config
        return 2 ** (len(getattr(config, "block_out_channels", None) or config.encoder_block_out_channels) - 1)

    @property
    def latent_size(self) -> tuple:
        size = self.unet.config.sample_size
        return (size, size) if isinstance(size, numbers.Integral) else tuple(size)

    @property
    def image_size(self) -> tuple:
        """(height, width) of the images the pipeline makes."""
        return tuple(s * self.vae_scale_factor for s in self.latent_size)

    def runtime(self, backend: str = "torch", **options):
        """The torch runtime or an ONNX Runtime one (exported once, cached) on the pipeline's device.

        ``options`` go to :class:`OnnxRuntime` (``cache_dir``, ``fp16``, ``tensorrt``, ``threads``).
        Runtimes are kept until :meth:`to` or :meth:`reset_runtimes`; call the
        latter after changing weights in place.
        """
        if backend not in BACKENDS:
            raise InvalidArgument(f"unknown backend {backend!r}; use 'torch' or 'onnx'")
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
        g = torch.Generator().manual_seed(0)
        h, w = self.latent_size
        if name == "unet":
            inputs = [torch.randn(batch, self.unet.config.in_channels, h, w, generator=g, dtype=dtype),
                      torch.full((batch,), 500.0)]
            if self.cross_attention:
                inputs.append(torch.randn(batch, self.projector.n_tokens, self.projector.cross_attention_dim,
                                          generator=g, dtype=dtype))
            if self.class_conditioning:
                inputs.append(torch.randn(batch, self.embedding_dim, generator=g, dtype=dtype))
            return inputs
        shapes = {"projector": (batch, self.embedding_dim), "prior": (batch, self.embedding_dim),
                  "vae_decoder": (batch, self.unet.config.in_channels, h, w),
                  "vae_encoder": (batch, 3) + self.image_size}
        if name not in shapes:
            raise InvalidArgument(f"unknown component {name!r}")
        return [torch.randn(shapes[name], generator=g, dtype=dtype)]

    # ------------------------------------------------------------- named steps
    def sampling_settings(self, n_steps=None, scheduler=None, guidance_scale=None, strength=None) -> dict:
        """The given sampling settings, checked, with the model's recommended ones in place of None.

        Returns
        -------
        settings : dict
            ``n_steps``, ``scheduler``, ``guidance_scale`` and ``strength``.
        """
        given = {"n_steps": n_steps, "scheduler": scheduler, "guidance_scale": guidance_scale, "strength": strength}
        settings = {name: self.sampling[name] if value is None else value for name, value in given.items()}
        n_steps, scheduler, guidance_scale, strength = settings.values()
        if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or not 1 <= n_steps <= MAX_STEPS:
            raise InvalidArgument(f"n_steps must be an integer in [1, {MAX_STEPS}], got {n_steps!r}")
        if scheduler not in SCHEDULERS:
            raise InvalidArgument(f"unknown scheduler {scheduler!r}; use one of {', '.join(SCHEDULERS)}")
        if not _is_real(guidance_scale) or not guidance_scale >= 1:
            raise InvalidArgument(f"guidance_scale must be a number >= 1 (1 turns guidance off), got {guidance_scale!r}")
        if not _is_real(strength) or not 0.0 <= strength <= 1.0:
            raise InvalidArgument(f"strength must be a number in [0, 1], got {strength!r}")
        return {"n_steps": int(n_steps), "scheduler": scheduler, "guidance_scale": float(guidance_scale),
                "strength": float(strength)}

    def check_inputs(self, embeddings, n_steps, scheduler, guidance_scale, strength, init_images, init_latents,
                     generator) -> tuple:
        """Validate the arguments of :meth:`__call__` (None: the recommended setting); return embeddings and
        init as float32 tensors."""
        emb = np.asarray(embeddings)
        if emb.ndim != 2 or emb.shape[1] != self.embedding_dim or emb.shape[0] < 1:
            raise InvalidArgument(f"embeddings must have shape (n, {self.embedding_dim}), got {emb.shape}")
        if not np.issubdtype(emb.dtype, np.number) or not np.all(np.isfinite(emb)):
            raise InvalidArgument("embeddings must be finite numbers")
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
            shape = (n, self.unet.config.in_channels) + self.latent_size
            init = torch.as_tensor(np.asarray(init_latents, dtype=np.float32))
            if tuple(init.shape) != shape or not torch.isfinite(init).all():
                raise InvalidArgument(f"init_latents must be finite with shape {shape}, got {tuple(init.shape)}")
        return torch.as_tensor(emb, dtype=torch.float32), init

    def encode_embeddings(self, runtime, embeddings, do_guidance: bool) -> list:
        """Conditioning inputs of the UNet; with guidance the null (zero) condition comes first."""
        if do_guidance:
            embeddings = torch.cat([torch.zeros_like(embeddings), embeddings])
        conditions = [runtime.run("projector", embeddings)] if self.cross_attention else []
        return conditions + ([embeddings] if self.class_conditioning else [])

    def encode_images(self, runtime, images) -> torch.Tensor:
        """Images (n, 3, H, W) in [-1, 1] -> the UNet's input space (VAE latents or the pixels themselves)."""
        return runtime.run("vae_encoder", images) if self.vae is not None else images

    def prepare_latents(self, scheduler, timesteps, n, generator, init_latents=None) -> torch.Tensor:
        """Starting latents: scaled noise, or ``init_latents`` noised to the first timestep (img2img)."""
        shape = (n, self.unet.config.in_channels) + self.latent_size
        noise = diffusers.utils.torch_utils.randn_tensor(shape, generator=generator, device=self.device,
                                                         dtype=torch.float32)
        if init_latents is None:
            return noise * scheduler.init_noise_sigma
        return scheduler.add_noise(init_latents.to(self.device), noise, timesteps[:1].repeat(n))

    def decode_latents(self, runtime, latents) -> np.ndarray:
        """Latents -> float images of shape (n, H, W, 3) in [0, 1]."""
        images = runtime.run("vae_decoder", latents) if self.vae is not None else latents
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
            Denoising steps, 1 to 8.
        scheduler : {"lcm", "ddim", "euler"}, optional
        guidance_scale : float, optional
            Classifier-free guidance against the zero embedding; 1 turns it off.
        generator : torch.Generator or list of n torch.Generator, optional
            One generator per image makes each image independent of its batch.
        init_images : array of shape (n, H, W, 3), optional
            Coarse images to start from (uint8, or float in [0, 1]) -- img2img.
        init_latents : array of shape (n, c, h, w), optional
            Or start from predicted latents (the UNet's input space).
        strength : float in [0, 1], optional
            With an init, or a latent prior: the noise level to start from (0 returns the init,
            1 starts from pure noise).
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
        elif init is None and self.prior is not None and strength < 1:
            init = runtime.run("prior", emb)
        timesteps = [] if init is not None and strength == 0 else set_timesteps(
            sampler, n_steps, strength if init is not None else 1.0, self.device)
        if len(timesteps):
            do_guidance = guidance_scale > 1
            conditions = self.encode_embeddings(runtime, emb, do_guidance)
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


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))


def _images_to_tensor(images, shape) -> torch.Tensor:
    """uint8 images or floats in [0, 1] of shape (n, H, W, 3) -> float tensor (n, 3, H, W) in [-1, 1]."""
    arr = np.asarray(images)
    if arr.shape != shape:
        raise InvalidArgument(f"init_images must have shape {shape}, got {arr.shape}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise InvalidArgument("init_images must be uint8 or finite floats in [0, 1]")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(0, 3, 1, 2) * 2 - 1
