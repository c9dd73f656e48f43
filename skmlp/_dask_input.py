"""Dask arrays and DataFrames as input: their rows and columns cut into the
blocks of ``X`` and validated as the estimator validates rows in memory, and
the lazy predictions and the score on them.

Training on a cluster is :mod:`skmlp._dask`. Dask is imported only here and
there, and only once the input is a Dask collection.
"""

import functools
import math
import sys

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from . import _validation
from ._objective import forward_log_proba


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection; never imports Dask (an object
    cannot be one unless Dask is imported already)."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(obj)


def dask_rows(X):
    """``X`` as a Dask array of rows with known block sizes, all columns in
    each block, and an empty array-like with its columns to validate (a
    DataFrame keeps its feature names)."""
    import dask.array as da

    if hasattr(X, "to_dask_array"):
        meta = X._meta
        X = X.to_dask_array(lengths=True)
    else:
        X = da.asarray(X)
        meta = np.empty((0, *X.shape[1:]), X.dtype)
    if any(math.isnan(size) for size in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X, meta


def dask_column(values, row_chunks, name):
    """``values`` (a Dask array or Series, or an array-like) as a 1-D Dask
    array cut into the blocks of ``X``."""
    import dask.array as da

    if hasattr(values, "to_dask_array"):
        if not isinstance(values.dtype, np.dtype):
            # A pandas extension dtype (strings, nullable integers): as
            # object, which scikit-learn's label checks take, instead of
            # Dask's warning that it does so.
            values = values.astype(object)
        values = values.to_dask_array(lengths=True)
    elif not is_dask_collection(values):
        values = np.asarray(values)
    values = da.asarray(values)
    if values.ndim != 1:
        if name == "y" and values.ndim == 2:
            raise ValueError(
                "Multilabel targets (a 2d y) train in memory only: a fit on a "
                "Dask cluster takes one label per row. Compute y and X "
                "(.compute()) to fit them in memory."
            )
        raise ValueError(
            f"{name} should be a 1d array, got an array of shape {values.shape} "
            "instead."
        )
    n_samples = sum(row_chunks)
    if values.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {values.shape[0]}]"
        )
    return values.rechunk((row_chunks,))


def validated(estimator, X, reset=False):
    """``X`` as :func:`dask_rows` gives it, and its columns (an empty
    array-like) validated as the estimator validates rows in memory."""
    X, meta = dask_rows(X)
    meta = validate_data(
        estimator,
        meta,
        reset=reset,
        accept_sparse="csr",
        dtype=(np.float64, np.float32),
        ensure_min_samples=0,
    )
    return X, meta


def _block_log_proba(X, coefs, intercepts, dtype):
    X = check_array(
        X, accept_sparse="csr", dtype=dtype, ensure_min_samples=0, input_name="X"
    )
    if X.shape[0] == 0:
        return np.empty((0, coefs[-1].shape[1]), np.result_type(X, coefs[0]))
    return forward_log_proba(coefs, intercepts, X, 1)


def _block_labels(log_proba, classes):
    return classes[np.argmax(log_proba, axis=1)]


def predict_log_proba(estimator, X):
    """``predict_log_proba`` of a fitted estimator on a Dask array or
    DataFrame: a lazy Dask array, computed block by block."""
    X, meta = validated(estimator, X)
    dtype = meta.dtype
    coefs, intercepts = estimator.coefs_, estimator.intercepts_
    return X.map_blocks(
        _block_log_proba,
        coefs,
        intercepts,
        dtype,
        dtype=np.result_type(dtype, coefs[0].dtype),
        chunks=(X.chunks[0], (len(estimator.classes_),)),
    )


def predict(estimator, X):
    """``predict`` on a Dask array or DataFrame: a lazy Dask array."""
    classes = estimator.classes_
    return predict_log_proba(estimator, X).map_blocks(
        _block_labels, classes, drop_axis=1, dtype=classes.dtype
    )


def _score(estimator, X, y, sample_weight):
    """Weighted accuracy on a Dask array or DataFrame, computed by the
    cluster (or Dask's local scheduler)."""
    import dask

    predicted = predict(estimator, X)
    row_chunks = predicted.chunks[0]
    correct = predicted == dask_column(y, row_chunks, "y")
    if sample_weight is None:
        (accuracy,) = dask.compute(correct.mean())
        return float(accuracy)
    sample_weight = dask_column(sample_weight, row_chunks, "sample_weight")
    right, total = dask.compute((correct * sample_weight).sum(), sample_weight.sum())
    return float(right / total)


def scored_where_the_rows_are(score):
    """``score`` (``ClassifierMixin.score``), except that the accuracy on a
    Dask array or DataFrame is computed where its blocks are."""

    @functools.wraps(score)
    def dask_aware_score(estimator, X, y, sample_weight=None):
        if is_dask_collection(X):
            return _score(_validation.fitted_view(estimator), X, y, sample_weight)
        return score(estimator, X, y, sample_weight)

    return dask_aware_score
