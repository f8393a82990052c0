"""Tiny random-weight model directories of the real classes, written by their own ``save_pretrained``.

``from reconstruction.tiny_models import save_tiny_kandinsky, save_tiny_stable_unclip, save_tiny_clip_vision``.
Each builder takes its sizes and a seed, builds the modules with that seed and writes the directory
the way diffusers (pipelines) or transformers (image encoders) write it; nothing is downloaded.
"""

from __future__ import annotations

import json
import pathlib
import string
import tempfile

import torch

#: Letters of the hand-written CLIP vocabulary of the tiny text encoders.
_LETTERS = string.ascii_lowercase


def _seeded(seed: int, build):
    torch.manual_seed(seed)
    return build()


def tiny_clip_tokenizer(directory, max_length: int):
    """A CLIPTokenizer read from a hand-written ``vocab.json`` of single letters and an empty ``merges.txt``
    written to ``directory``; it pads to ``max_length`` tokens."""
    from transformers import CLIPTokenizer

    directory = pathlib.Path(directory)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in _LETTERS:
        vocab[letter] = len(vocab)
        vocab[letter + "</w>"] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(directory, model_max_length=max_length)


def save_tiny_kandinsky(path, embedding_dim: int = 32, image_size: int = 32, seed: int = 0,
                        cross_attention_dim: int = 32, learned_variance: bool = True,
                        scheduler: str = "DDPMScheduler", prediction_type: str = "epsilon") -> pathlib.Path:
    """A Kandinsky 2.2 decoder directory (``unet/``, ``scheduler/``, ``movq/``) by ``KandinskyV22Pipeline``.

    Parameters
    ----------
    embedding_dim : int
        Size of the image embeddings the UNet takes (``encoder_hid_dim``).
    image_size : int
        Height and width of the images, a multiple of 4 (the MoVQ halves it, the UNet once more).
    learned_variance : bool
        The UNet predicts a variance too (8 output channels), as the real decoder does.
    scheduler : str
        The diffusers scheduler class saved in ``scheduler/``.
    prediction_type : str
        What the UNet predicts ("epsilon" in the real decoder). A random epsilon-UNet's first step from
        noise divides its error by sqrt(alpha_bar_T) (about 0.07): its latents grow to ~100, far outside
        what a decoder meets; a random "v_prediction" UNet keeps them in range.
    """
    import diffusers
    from diffusers import KandinskyV22Pipeline, UNet2DConditionModel, VQModel

    unet = _seeded(seed, lambda: UNet2DConditionModel(
        sample_size=image_size // 2, in_channels=4, out_channels=8 if learned_variance else 4,
        addition_embed_type="image", encoder_hid_dim=embedding_dim, encoder_hid_dim_type="image_proj",
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn", block_out_channels=(32, 64), layers_per_block=1,
        cross_attention_dim=cross_attention_dim, attention_head_dim=8, resnet_time_scale_shift="scale_shift",
        class_embed_type=None,
    ))
    # SpatialNorm needs channel counts that are multiples of 32.
    movq = _seeded(seed + 1, lambda: VQModel(
        block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D", "AttnDownEncoderBlock2D"),
        up_block_types=("AttnUpDecoderBlock2D", "UpDecoderBlock2D"), in_channels=3, out_channels=3,
        latent_channels=4, layers_per_block=1, norm_num_groups=8, norm_type="spatial", num_vq_embeddings=12,
        vq_embed_dim=4,
    ))
    noise_schedule = getattr(diffusers, scheduler)(
        num_train_timesteps=1000, beta_schedule="linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
        prediction_type=prediction_type)
    KandinskyV22Pipeline(unet=unet, scheduler=noise_schedule, movq=movq).save_pretrained(path)
    return pathlib.Path(path)


def save_tiny_stable_unclip(path, embedding_dim: int = 32, image_size: int = 32, seed: int = 0,
                            text_dim: int = 32, text_length: int = 8,
                            prediction_type: str = "v_prediction") -> pathlib.Path:
    """A Stable unCLIP directory (``StableUnCLIPImg2ImgPipeline``, with its image encoder) of tiny modules.

    Parameters
    ----------
    embedding_dim : int
        Size of the image embeddings (``projection_dim`` of ``image_encoder/``); the UNet's class
        projection takes twice that (the embedding and its noise-level embedding).
    image_size : int
        Height and width of the images, a multiple of 4 (the VAE halves it).
    text_dim, text_length : int
        Hidden size and number of tokens of the text encoder (the UNet attends to text_length x text_dim).
    """
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableUnCLIPImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer
    from transformers import CLIPImageProcessor, CLIPTextConfig, CLIPTextModel

    path = pathlib.Path(path)
    image_encoder = tiny_clip_vision(embedding_dim, image_size, seed)
    with tempfile.TemporaryDirectory() as vocabulary:
        tokenizer = tiny_clip_tokenizer(vocabulary, text_length)
    text_encoder = _seeded(seed + 1, lambda: CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, vocab_size=len(tokenizer), hidden_size=text_dim,
        projection_dim=text_dim, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=text_length)))
    normalizer = _seeded(seed + 2, lambda: StableUnCLIPImageNormalizer(embedding_dim=embedding_dim))
    with torch.no_grad():  # a fitted normalizer is not the identity
        normalizer.mean.normal_(0, 0.5)
        normalizer.std.uniform_(0.5, 2.0)
    unet = _seeded(seed + 3, lambda: UNet2DConditionModel(
        sample_size=image_size // 2, in_channels=4, out_channels=4, layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(32, 64), attention_head_dim=(2, 4), class_embed_type="projection",
        projection_class_embeddings_input_dim=2 * embedding_dim, cross_attention_dim=text_dim,
        upcast_attention=True, use_linear_projection=True,
    ))
    vae = _seeded(seed + 4, lambda: AutoencoderKL(
        block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, sample_size=image_size))
    pipeline = StableUnCLIPImg2ImgPipeline(
        feature_extractor=CLIPImageProcessor(crop_size=image_size, size=image_size),
        image_encoder=image_encoder, image_normalizer=normalizer,
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tokenizer, text_encoder=text_encoder, unet=unet,
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                prediction_type=prediction_type, set_alpha_to_one=False, steps_offset=1),
        vae=vae)
    pipeline.save_pretrained(path)
    return path


def tiny_clip_vision(projection_dim: int = 32, image_size: int = 32, seed: int = 0, with_projection: bool = True):
    """A random CLIPVisionModelWithProjection (or CLIPVisionModel) on ``image_size`` pixels, patches of 4."""
    from transformers import CLIPVisionConfig, CLIPVisionModel, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(hidden_size=32, projection_dim=projection_dim, num_hidden_layers=2,
                              num_attention_heads=4, image_size=image_size, intermediate_size=37, patch_size=4)
    model_class = CLIPVisionModelWithProjection if with_projection else CLIPVisionModel
    return _seeded(seed, lambda: model_class(config)).eval()


def save_tiny_clip_vision(path, projection_dim: int = 32, image_size: int = 32, seed: int = 0,
                          with_projection: bool = True) -> pathlib.Path:
    """A CLIP image-encoder directory: the model's ``save_pretrained`` plus a CLIP ``preprocessor_config.json``."""
    from transformers import CLIPImageProcessor

    tiny_clip_vision(projection_dim, image_size, seed, with_projection).save_pretrained(path)
    CLIPImageProcessor(crop_size=image_size, size=image_size).save_pretrained(path)
    return pathlib.Path(path)
