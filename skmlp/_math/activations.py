"""Numerically stable softplus, its derivative and the log-softmax.

Pure NumPy, no estimator code. Every function keeps the floating dtype of its
input, so float32 data is trained and predicted in float32.
"""

import functools

import numpy as np

__all__ = ["log_softmax_inplace", "softplus_and_sigmoid", "softplus_inplace"]


@functools.cache
def _saturation(dtype):
    """Where softplus and the logistic sigmoid saturate in ``dtype``.

    Above it ``exp(-z)`` is below half the spacing of the floats just under 1,
    so ``softplus(z)`` rounds to ``z`` and ``sigmoid(z)`` to 1; ``exp`` of it
    is finite in every floating dtype (about 38.1 in float64, 18.0 in
    float32, 9.0 in float16).
    """
    return float(np.log(8 / np.finfo(dtype).eps))


def softplus_inplace(z, scratch, derivative=None):
    """Softplus of ``z`` in place, and optionally its derivative.

    The hidden layers' nonlinearity in as few slow passes over memory as
    NumPy allows: one ``exp`` and one ``log``, the two that NumPy computes
    with SIMD instructions, and seven cheap passes give both the activation
    and the derivative (more where ``z`` is so large that ``exp``
    overflows).

    Parameters
    ----------
    z : ndarray
        Pre-activations; overwritten by ``softplus(z)``.
    scratch : ndarray
        Work space of the shape and dtype of ``z``; overwritten.
    derivative : ndarray, default=None
        If given, of the shape and dtype of ``z``; receives
        ``sigmoid(z) = 1 / (1 + exp(-z))``, the derivative of softplus.
        Without it, a work array of that shape is allocated.

    Returns
    -------
    z : ndarray
        The argument ``z``, now holding ``softplus(z)``.

    Notes
    -----
    With ``E = exp(z)`` and ``u = 1 + E`` rounded::

        softplus(z) = log1p(E) = log(u) + (E - (u - 1)) / u
        sigmoid(z) = E / u

    ``u - 1`` and ``E - (u - 1)`` are exact (Sterbenz's lemma), so the
    second term is the rounding error of ``1 + E`` carried to first order
    (its square, at most ``eps**2 / 4``, is below the last place): the sum
    is ``log1p(E)`` to a few units in the last place for every ``z``,
    including very negative ones, where ``u`` rounds to 1 and the sum is
    ``E``. It is not written as ``log1p`` because NumPy's ``log1p`` is a
    scalar loop: on a 200 x 100 block it takes 2.5 times as long as ``log``
    in float64 and 7 times in float32, where it was most of a training step
    (docs/performance.md, "Softplus: log and a correction instead of
    log1p"). Where ``exp`` overflows (``z`` above about 709 in float64, 88 in
    float32) or ``z`` is infinite, ``E = exp(min(z, c))`` with ``c`` the
    saturation point of the dtype (about 38 in float64, 18 in float32),
    above which softplus is ``z`` and the sigmoid 1 to rounding, and
    ``softplus(z) = max(z, log1p(E))``: nothing overflows.
    """
    if derivative is None:
        derivative = np.empty_like(z)
    try:
        # The processor flags an overflow of exp for free, where looking
        # for large values first would cost a pass over z. A NaN stays a
        # NaN either way.
        with np.errstate(over="raise", invalid="raise"):
            E = np.exp(z, out=derivative)
            # inf - inf flags an infinite z before z is written over (its
            # exp is inf with no overflow), in one cheap pass.
            np.subtract(E, E, out=scratch)
            u = np.add(E, 1, out=scratch)
            # z is free once exp has read it: the correction goes there.
            correction = np.subtract(u, 1, out=z)
            np.subtract(E, correction, out=correction)
            correction /= u
            np.divide(E, u, out=derivative)  # sigmoid(z), over E
            return np.add(correction, np.log(u, out=u), out=z)
    except FloatingPointError:
        pass
    np.minimum(z, _saturation(z.dtype), out=scratch)
    np.exp(scratch, out=scratch)
    np.add(scratch, 1, out=derivative)
    np.divide(scratch, derivative, out=derivative)
    np.log1p(scratch, out=scratch)
    return np.maximum(z, scratch, out=z)


def softplus_and_sigmoid(z):
    """``softplus(z)`` and ``sigmoid(z)``, its derivative, as new arrays:
    :func:`softplus_inplace` on a copy of ``z``, for the plain functions of
    :mod:`skmlp._math.network`, which compute the same numbers as the fast
    evaluation."""
    a, sigma = np.array(z), np.empty_like(z)
    softplus_inplace(a, np.empty_like(a), sigma)
    return a, sigma


@functools.cache
def _ones(n, dtype):
    """A read-only vector of ``n`` ones."""
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def log_softmax_inplace(z, proba, column):
    """Log-softmax of the columns of ``z`` in place, and the softmax.

    The classes run down the columns: the layout in which the network
    computes a block of rows (``z`` is the transpose of the usual
    ``(n_rows, n_classes)`` array), so that every pass below runs over
    contiguous rows of ``n_rows`` numbers.

    Parameters
    ----------
    z : ndarray of shape (n_classes, n_rows)
        Logits; overwritten by their log-softmax over each column.
    proba : ndarray of shape (n_classes, n_rows)
        Receives the softmax of each column (columns sum to 1).
    column : ndarray of shape (n_rows,)
        Work space; overwritten.

    Returns
    -------
    z : ndarray
        The argument ``z``, now holding the log-probabilities.

    Notes
    -----
    The column maximum is subtracted first, so ``exp`` cannot overflow and
    the column sum is at least 1.
    """
    # Reductions over the first axis run row by row over contiguous rows;
    # the sum as a vector-matrix product is faster still.
    np.maximum.reduce(z, axis=0, out=column)
    z -= column
    np.exp(z, out=proba)
    np.matmul(_ones(z.shape[0], z.dtype), proba, out=column)
    proba /= column
    np.log(column, out=column)
    z -= column
    return z
