"""Numerically stable softplus, its derivative and the log-softmax.

Pure NumPy, no estimator code. Every function keeps the floating dtype of its
input, so float32 data is trained and predicted in float32.
"""

import numpy as np
from scipy.special import log_softmax

__all__ = ["log_softmax", "softplus", "softplus_with_derivative"]


def softplus(z):
    """Softplus ``log(1 + exp(z))`` without overflow.

    Uses ``max(z, 0) + log1p(exp(-|z|))``, which is exact to rounding for
    every finite ``z`` (the naive form overflows for ``z`` above ~709 in
    float64 and ~88 in float32).
    """
    z = np.asarray(z)
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def softplus_with_derivative(z):
    """Softplus of ``z`` and its derivative, the logistic sigmoid.

    Both come from one ``exp(-|z|)``, which is where most of the time of a
    hidden layer's nonlinearity goes.

    Parameters
    ----------
    z : ndarray
        Pre-activations. Not modified.

    Returns
    -------
    activation : ndarray
        ``softplus(z)``, same shape and dtype as ``z``.
    derivative : ndarray
        ``sigmoid(z) = 1 / (1 + exp(-z))``, same shape and dtype as ``z``.
    """
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)  # e = exp(-|z|), in (0, 1]
    activation = np.log1p(e)
    activation += np.maximum(z, 0)
    # sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0.
    derivative = e + 1
    np.reciprocal(derivative, out=derivative)
    np.multiply(derivative, e, out=derivative, where=z < 0)
    return activation, derivative
