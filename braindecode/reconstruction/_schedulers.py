"""Few-step samplers: diffusers scheduler classes by short name."""

from __future__ import annotations

import math

from diffusers import DDIMScheduler, EulerDiscreteScheduler, LCMScheduler

from braindecode.errors import InvalidArgument, quoted

SCHEDULERS = {"lcm": LCMScheduler, "ddim": DDIMScheduler, "euler": EulerDiscreteScheduler}
MAX_STEPS = 8

# Settings that make 1-8 step sampling start from pure noise (t = T - 1).
_FEW_STEP_OVERRIDES = {"ddim": {"timestep_spacing": "trailing", "set_alpha_to_one": True},
                       "euler": {"timestep_spacing": "trailing"}, "lcm": {}}


def make_scheduler(name: str, config):
    """A fresh scheduler ``name`` ("lcm", "ddim" or "euler") built from another scheduler's config.

    Parameters
    ----------
    name : {"lcm", "ddim", "euler"}
    config : FrozenDict or dict
        The noise schedule the model was trained with (betas, prediction type).
    """
    if name not in SCHEDULERS:
        raise InvalidArgument(f"unknown scheduler {quoted(name)}; use one of {', '.join(SCHEDULERS)}")
    return SCHEDULERS[name].from_config(config, **_FEW_STEP_OVERRIDES[name])


def set_timesteps(scheduler, n_steps: int, strength: float = 1.0, device=None):
    """Timesteps of an ``n_steps`` run that starts at noise level ``strength``.

    ``strength`` 1 starts from pure noise; below 1 the run starts part-way
    (img2img) and still makes ``n_steps`` denoising steps: LCM picks them
    inside the first ``strength`` of its schedule, the others keep the last
    ``n_steps`` of a ``ceil(n_steps / strength)``-step schedule.

    Returns
    -------
    timesteps : tensor of shape (n_steps,)
    """
    if isinstance(scheduler, LCMScheduler):
        try:
            scheduler.set_timesteps(n_steps, device=device, strength=strength)
        except ValueError as exc:
            raise InvalidArgument(f"strength {strength} leaves too few LCM timesteps for {n_steps} steps: {exc}") from None
        return scheduler.timesteps
    total = math.ceil(n_steps / strength - 1e-9)
    if total > scheduler.config.num_train_timesteps:
        raise InvalidArgument(
            f"strength {strength} is too low for {n_steps} steps: it needs a {total}-step schedule, "
            f"the model has {scheduler.config.num_train_timesteps} timesteps"
        )
    scheduler.set_timesteps(total, device=device)
    start = (total - n_steps) * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start)
    return scheduler.timesteps[start:]
