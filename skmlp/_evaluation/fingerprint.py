"""Fingerprints of an objective's rows: a digest of all that its values
depend on, by which a ``partial_fit`` call recognises the rows of the last
one (``Objective.fingerprint``, ``AdaptiveStep.remeasure``)."""

import hashlib

import numpy as np
import scipy.sparse as sp

# The rows that a sampled fingerprint reads.
FINGERPRINT_SAMPLE = 16


def digest(header, X, y, sample_weight, block_size, sampled):
    """The SHA-256 hex digest of ``header`` (a tuple of what the values
    depend on besides the rows, made into its ``repr``) and of the rows
    ``X``, ``y``, ``sample_weight`` (values, dtype, shape, sparse
    structure); with ``sampled``, of only ``FINGERPRINT_SAMPLE`` evenly
    spaced rows. Rows that are not contiguous are read ``block_size`` at a
    time. Raises TypeError for rows whose numbers cannot be read as such
    (an array of objects).
    """
    digest = hashlib.sha256()
    header = (
        sampled,
        *header,
        X.dtype.str,
        X.shape,
        X.format if sp.issparse(X) else "dense",
    )
    digest.update(repr(header).encode())
    if sampled:
        rows = np.unique(np.linspace(0, X.shape[0] - 1, FINGERPRINT_SAMPLE))
        rows = rows.astype(np.intp)
        X, y, sample_weight = X[rows], y[rows], sample_weight[rows]
    if sp.issparse(X):
        for part in (X.indptr, X.indices, X.data):
            _digest_array(digest, part)
    elif X.flags.c_contiguous:
        _digest_array(digest, X)
    else:
        # A block at a time: a contiguous copy of the whole would be
        # as large as the rows.
        for start in range(0, X.shape[0], block_size):
            _digest_array(digest, X[start : start + block_size])
    for part in (y, sample_weight):
        _digest_array(digest, part)
    return digest.hexdigest()


def _digest_array(digest, array):
    """Add the numbers of ``array`` to ``digest``, with their dtype and
    shape: without a copy when they are contiguous (a block's worth, at
    most, otherwise)."""
    array = np.asarray(array)
    if array.dtype.hasobject:
        # The bytes of objects are their addresses, not their values.
        raise TypeError("an array of objects has no fingerprint")
    digest.update(repr((array.dtype.str, array.shape)).encode())
    digest.update(np.ascontiguousarray(array).data)
