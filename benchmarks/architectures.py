"""Model directories with the published architectures of Kandinsky 2.2 and Stable unCLIP 2.1, random weights.

For speed and memory figures where the published weights cannot be downloaded: the classes and
configurations are those of kandinsky-community/kandinsky-2-2-decoder and
stabilityai/stable-diffusion-2-1-unclip (OpenCLIP ViT-H/14 conditioning), the weights random.
The tokenizer is a hand-written one (only the empty prompt is ever encoded).

    save_architecture("kandinsky22", path, image_size=512)
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from reconstruction.tiny_models import tiny_clip_tokenizer  # noqa: E402

LATENT_FACTOR = 8  # both autoencoders map 8 x 8 pixels to one latent pixel

KANDINSKY22_UNET = dict(
    in_channels=4, out_channels=8, block_out_channels=(384, 768, 1152, 1536), layers_per_block=3,
    down_block_types=("ResnetDownsampleBlock2D",) + ("SimpleCrossAttnDownBlock2D",) * 3,
    up_block_types=("SimpleCrossAttnUpBlock2D",) * 3 + ("ResnetUpsampleBlock2D",),
    mid_block_type="UNetMidBlock2DSimpleCrossAttn", attention_head_dim=64, cross_attention_dim=768,
    encoder_hid_dim=1280, encoder_hid_dim_type="image_proj", addition_embed_type="image",
    addition_embed_type_num_heads=64, resnet_time_scale_shift="scale_shift", class_embed_type=None,
)
KANDINSKY22_MOVQ = dict(
    block_out_channels=(128, 256, 256, 512), down_block_types=("DownEncoderBlock2D",) * 3 + ("AttnDownEncoderBlock2D",),
    up_block_types=("AttnUpDecoderBlock2D",) + ("UpDecoderBlock2D",) * 3, in_channels=3, out_channels=3,
    latent_channels=4, layers_per_block=2, norm_num_groups=32, norm_type="spatial", num_vq_embeddings=16384,
    vq_embed_dim=4,
)
KANDINSKY22_SCHEDULER = dict(num_train_timesteps=1000, beta_schedule="linear", beta_start=0.00085, beta_end=0.012,
                             clip_sample=False, prediction_type="epsilon")

UNCLIP21_DIM = 1024
UNCLIP21_UNET = dict(
    in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, attention_head_dim=(5, 10, 20, 20),
    cross_attention_dim=1024, use_linear_projection=True, class_embed_type="projection",
    projection_class_embeddings_input_dim=2 * UNCLIP21_DIM,
)
UNCLIP21_VAE = dict(
    block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, layers_per_block=2,
)
UNCLIP21_TEXT = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                     projection_dim=1024, hidden_act="gelu", max_position_embeddings=77, bos_token_id=0,
                     eos_token_id=1, pad_token_id=1)
UNCLIP21_SCHEDULER = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                          prediction_type="v_prediction", set_alpha_to_one=False, steps_offset=1, clip_sample=False)


def save_kandinsky22(path, image_size: int = 512, seed: int = 0) -> pathlib.Path:
    """A Kandinsky 2.2 decoder directory (1.2 B-parameter UNet, MoVQ) for ``image_size`` pixels."""
    from diffusers import DDPMScheduler, KandinskyV22Pipeline, UNet2DConditionModel, VQModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(sample_size=image_size // LATENT_FACTOR, **KANDINSKY22_UNET)
    movq = VQModel(**KANDINSKY22_MOVQ)
    KandinskyV22Pipeline(unet=unet, scheduler=DDPMScheduler(**KANDINSKY22_SCHEDULER), movq=movq).save_pretrained(path)
    return pathlib.Path(path)


def save_unclip21(path, image_size: int = 512, seed: int = 0) -> pathlib.Path:
    """A Stable unCLIP 2.1 (ViT-H) directory for ``image_size`` pixels, without its 632 M-parameter image encoder."""
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableUnCLIPImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as vocabulary:
        tokenizer = tiny_clip_tokenizer(vocabulary, UNCLIP21_TEXT["max_position_embeddings"])
    pipeline = StableUnCLIPImg2ImgPipeline(
        feature_extractor=None, image_encoder=None,
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=UNCLIP21_DIM),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"), tokenizer=tokenizer,
        text_encoder=CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), **UNCLIP21_TEXT)),
        unet=UNet2DConditionModel(sample_size=image_size // LATENT_FACTOR, **UNCLIP21_UNET),
        scheduler=DDIMScheduler(**UNCLIP21_SCHEDULER), vae=AutoencoderKL(**UNCLIP21_VAE))
    pipeline.save_pretrained(path)
    return pathlib.Path(path)


ARCHITECTURES = {"kandinsky22": save_kandinsky22, "unclip21": save_unclip21}


def save_architecture(name: str, path, image_size: int = 512, seed: int = 0) -> pathlib.Path:
    """Write architecture ``name`` ("kandinsky22" or "unclip21") with random weights to ``path``."""
    return ARCHITECTURES[name](path, image_size, seed)
