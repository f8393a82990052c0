import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, AutoencoderTiny, DDPMScheduler, UNet2DConditionModel

from braindecode.reconstruction import ConditionProjector, LatentPrior, ReconstructionPipeline

EMBEDDING_DIM = 12


def tiny_autoencoder(kind):
    """A random 2x autoencoder for 16 x 16 images: "kl" (AutoencoderKL), "tiny" (AutoencoderTiny) or None."""
    if kind == "kl":
        return AutoencoderKL(
            block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=4, sample_size=16,
        )
    if kind == "tiny":
        return AutoencoderTiny(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
                               num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), latent_channels=4,
                               scaling_factor=0.7)
    return None


def tiny_pipeline(seed=0, vae="kl", cross_attention=True, class_conditioning=True, prior=False) -> ReconstructionPipeline:
    """A randomly initialised pipeline with the classes of a real one: 16 x 16 images (from 8 x 8 latents).

    ``prior=True`` adds a LatentPrior over 10 random reference embeddings and latents.
    """
    torch.manual_seed(seed)
    channels = 4 if vae else 3
    attn = ("CrossAttnDownBlock2D", "CrossAttnUpBlock2D") if cross_attention else ("DownBlock2D", "UpBlock2D")
    unet = UNet2DConditionModel(
        sample_size=8 if vae else 16, in_channels=channels, out_channels=channels, layers_per_block=1,
        block_out_channels=(8, 16), down_block_types=(attn[0], "DownBlock2D"), up_block_types=("UpBlock2D", attn[1]),
        mid_block_type="UNetMidBlock2DCrossAttn" if cross_attention else "UNetMidBlock2D",
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=4,
        class_embed_type="projection" if class_conditioning else None,
        projection_class_embeddings_input_dim=EMBEDDING_DIM if class_conditioning else None,
    )
    autoencoder = tiny_autoencoder(vae)
    projector = ConditionProjector(EMBEDDING_DIM, n_tokens=3, cross_attention_dim=16) if cross_attention else None
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    size = unet.config.sample_size
    latent_prior = LatentPrior(torch.randn(10, EMBEDDING_DIM), torch.randn(10, channels, size, size)) if prior else None
    return ReconstructionPipeline(unet, scheduler, projector, autoencoder, latent_prior)


@pytest.fixture(scope="session")
def make_tiny():
    """The factory of tiny random pipelines (``make_tiny(seed=0, vae="kl", ...)``)."""
    return tiny_pipeline


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """A tiny latent pipeline saved in the diffusers layout (UNet with cross-attention and class embeds)."""
    path = tmp_path_factory.mktemp("tiny-model")
    tiny_pipeline().save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def pipeline(tiny_dir):
    return ReconstructionPipeline.from_pretrained(tiny_dir)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture
def embeddings():
    return np.random.default_rng(0).normal(size=(3, EMBEDDING_DIM)).astype(np.float32)
