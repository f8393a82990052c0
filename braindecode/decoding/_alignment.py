"""The classical cross-subject baseline: functional alignment onto a template subject, then its decoder."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from braindecode.decoding._validation import check_input
from braindecode.errors import FailedPrecondition, InvalidArgument


class AlignedDecoder(BaseEstimator):
    """A new subject decoded by a template subject's decoder after Procrustes hyperalignment.

    On stimuli that both subjects saw, each subject's responses are centred per voxel and
    fmralign's scaled orthogonal Procrustes maps the new subject's voxels onto the template's
    (a semi-orthogonal map when the voxel counts differ). ``predict`` maps new responses the
    same way, adds the template's voxel means and decodes them with the template's decoder.

    Parameters
    ----------
    decoder : fitted decoder
        The template's: anything with ``predict(X)`` for X of shape (n_samples, n_template_voxels)
        (``RidgeDecoder``, ``MLPDecoder``, ``OnnxDecoder`` ...).
    scaling : bool
        Fit Procrustes' global scale too.

    Attributes
    ----------
    rotation_ : array of shape (n_voxels, n_template_voxels)
        Orthonormal rows or columns: centred new responses @ ``rotation_`` * ``scale_`` approximate
        the template's centred responses.
    scale_ : float
    mean_ : array of shape (n_voxels,)
        The new subject's mean responses to the shared stimuli.
    template_mean_ : array of shape (n_template_voxels,)
    """

    def __init__(self, decoder, scaling: bool = True):
        self.decoder = decoder
        self.scaling = scaling

    def fit(self, X, X_template):
        """Align the new subject onto the template.

        Parameters
        ----------
        X : array of shape (n_shared, n_voxels)
            The new subject's responses to the shared stimuli.
        X_template : array of shape (n_shared, n_template_voxels)
            The template's responses to the same stimuli, in the same order (e.g. repeats averaged).

        Returns
        -------
        self
        """
        from fmralign.methods import Procrustes

        X = check_input(X, "fmri")
        X_template = check_input(X_template, "fmri")
        if len(X) != len(X_template):
            raise InvalidArgument(f"alignment needs the responses of both subjects to the same stimuli: got "
                                  f"{len(X)} samples of the new subject and {len(X_template)} of the template")
        if len(X) < 2:
            raise InvalidArgument("alignment needs at least 2 shared stimuli")
        self.mean_, self.template_mean_ = X.mean(axis=0), X_template.mean(axis=0)
        procrustes = Procrustes(scaling=self.scaling).fit(X - self.mean_, X_template - self.template_mean_)
        self.rotation_, self.scale_ = procrustes.R, float(procrustes.scale)
        return self

    def transform(self, X) -> np.ndarray:
        """The new subject's responses in the template's voxel space.

        Parameters
        ----------
        X : array of shape (n_samples, n_voxels)

        Returns
        -------
        X_template : array of shape (n_samples, n_template_voxels), float32
        """
        if not hasattr(self, "rotation_"):
            raise FailedPrecondition("AlignedDecoder is not fitted: call fit before transform or predict")
        X = check_input(X, "fmri", (len(self.mean_),))
        return ((X - self.mean_) @ self.rotation_ * self.scale_ + self.template_mean_).astype(np.float32)

    def predict(self, X) -> np.ndarray:
        """Decoded embeddings: ``decoder.predict(transform(X))``.

        Parameters
        ----------
        X : array of shape (n_samples, n_voxels)

        Returns
        -------
        Y : array of shape (n_samples, n_dims), float32
        """
        return self.decoder.predict(self.transform(X))
