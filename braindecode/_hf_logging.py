"""Hugging Face libraries (diffusers, transformers) loading quietly: errors only, no progress bars."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def quiet_loading():
    """diffusers and transformers (those imported) log errors only and show no progress bars inside the context."""
    libraries = [sys.modules.get(name) for name in ("diffusers", "transformers")]
    loggers = [library.utils.logging for library in libraries if library is not None]
    levels = [logger.get_verbosity() for logger in loggers]
    bars = [logger.is_progress_bar_enabled() for logger in loggers]
    for logger in loggers:
        logger.set_verbosity_error()
        logger.disable_progress_bar()
    try:
        yield
    finally:
        for logger, level, bar in zip(loggers, levels, bars):
            logger.set_verbosity(level)
            if bar:
                logger.enable_progress_bar()
