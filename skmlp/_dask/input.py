"""Dask arrays and DataFrames as input: their rows and columns cut into the
blocks of ``X`` and validated as the estimator validates rows in memory, and
the lazy predictions and the score on them.

Training on a cluster is :mod:`skmlp._dask.cluster`. Dask is imported only here and
there, and only once the input is a Dask collection.
"""

import functools
import math
import sys

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import DataConversionWarning, UndefinedMetricWarning
from sklearn.metrics import accuracy_score
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from .. import _validation
from .._evaluation.blocks import forward_log_proba
from .._math.datafits import DATAFITS
from .._sklearn_compat import _check_sample_weight, _pandas_dtype_needs_early_conversion
from .._warnings import warn_at_user_code


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection; never imports Dask (an object
    cannot be one unless Dask is imported already)."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(obj)


def _columns(X):
    """An empty array-like with the columns of the Dask array or DataFrame
    ``X``, for ``validate_data``: a DataFrame's own (pandas) meta keeps its
    feature names and column dtypes."""
    if hasattr(X, "to_dask_array"):
        return X._meta
    import dask.array as da

    X = da.asarray(X)
    return np.empty((0, *X.shape[1:]), X.dtype)


def dask_rows(X, dtype):
    """``X`` as a Dask array of rows with known block sizes, all columns in
    each block; ``dtype`` is the dtype that validating its columns chose.

    A DataFrame whose columns scikit-learn converts before anything else
    (nullable integers or floats, booleans: see
    ``_pandas_dtype_needs_early_conversion``) is converted as ``check_array``
    converts it, partition by partition, with pandas' ``astype``: its
    ``<NA>`` become NaN, which the blocks' checks refuse in
    scikit-learn's words ("Input X contains NaN"). Without it,
    ``to_dask_array`` makes object blocks that hold ``pd.NA``, which
    ``float()`` refuses with a bare TypeError.
    """
    import dask.array as da

    if hasattr(X, "to_dask_array"):
        if any(_pandas_dtype_needs_early_conversion(d) for d in X._meta.dtypes):
            X = X.astype(dtype)
        X = X.to_dask_array(lengths=True)
    else:
        X = da.asarray(X)
    X = with_known_chunks(X)
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def with_known_chunks(values):
    """The Dask array ``values`` with its block sizes computed if they are
    unknown (rows selected by a mask, ``X[X[:, 0] > 0]``): a pass over the
    blocks, which sends back their shapes only."""
    if any(math.isnan(size) for size in values.chunks[0]):
        values = values.compute_chunk_sizes()
    return values


def dask_column(values, row_chunks, name, dtype=None, warn=False):
    """``values`` (a Dask array or Series, or an array-like) as a 1-D Dask
    array cut into the blocks of ``X``.

    ``dtype`` is the one that scikit-learn's ``check_array`` is given for
    ``values`` in memory (None for ``y``, that of ``X`` for the sample
    weights of a fit): a Series of a pandas extension dtype is converted as
    ``check_array`` converts it, which is what its conversion of an empty
    Series of that dtype gives (nullable integers or floats with ``<NA>``
    to floats with NaN, that the checks refuse in scikit-learn's words;
    strings to object, which scikit-learn's label checks take, instead of
    Dask's warning that it does so).

    A ``y`` of one column (a DataFrame, or a 2-D array) is one label per
    row, as in memory: with ``warn``, scikit-learn's DataConversionWarning
    says so, as ``fit`` does in memory (``score`` does not).
    """
    import dask.array as da

    if name == "sample_weight" and np.ndim(values) == 0:
        # One weight for every row, as _check_sample_weight takes it.
        return da.full(sum(row_chunks), values, chunks=(row_chunks,))
    column_vector = False
    # (A Dask Series has ``columns`` too, of its one name: ndim tells them.)
    frame = hasattr(values, "columns") and getattr(values, "ndim", 0) == 2
    if name == "y" and frame and len(values.columns) == 1:
        # A DataFrame of one column: a column vector, which scikit-learn
        # takes as one label per row, with its warning (below).
        values, column_vector = values[values.columns[0]], True
    if hasattr(values, "to_dask_array"):
        # (A DataFrame of more columns has dtypes: it is 2-D, told below.)
        if not isinstance(getattr(values, "dtype", np.dtype(object)), np.dtype):
            converted = check_array(
                values._meta,
                ensure_2d=False,
                dtype=dtype,
                ensure_min_samples=0,
                ensure_all_finite=False,
                input_name=name,
            )
            values = values.astype(converted.dtype)
        values = values.to_dask_array(lengths=True)
    elif not is_dask_collection(values):
        # One block, cut into X's blocks below: Dask cannot choose the
        # blocks ("auto") of an array of Python objects (labels in a pandas
        # column of object dtype), whose size in bytes it cannot tell, and
        # would raise a NotImplementedError.
        values = da.from_array(np.asarray(values), chunks=-1)
    values = da.asarray(values)
    if column_vector or (name == "y" and values.ndim == 2 and values.shape[1] == 1):
        # In memory, column_or_1d(y, warn=True) in fit.
        if warn:
            warn_at_user_code(_validation.COLUMN_VECTOR_MESSAGE, DataConversionWarning)
        values = values if values.ndim == 1 else values[:, 0]
    if values.ndim != 1:
        if name == "y" and values.ndim == 2:
            raise ValueError(
                "Multilabel targets (a 2d y) train in memory only: a fit on a "
                "Dask cluster takes one label per row. Compute y and X "
                "(.compute()) to fit them in memory."
            )
        if name == "sample_weight":
            # _check_sample_weight's own words, whatever scikit-learn's
            # version says: its check of weights of as many dimensions, on
            # views of one number (no memory).
            n_rows = sum(row_chunks)
            _check_sample_weight(
                np.broadcast_to(np.float64(1.0), (n_rows,) + (1,) * (values.ndim - 1)),
                np.broadcast_to(np.float64(0.0), (n_rows, 1)),
            )
        raise ValueError(
            f"{name} should be a 1d array, got an array of shape {values.shape} "
            "instead."
        )
    values = with_known_chunks(values)
    n_samples = sum(row_chunks)
    if values.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {values.shape[0]}]"
        )
    return values.rechunk((row_chunks,))


def validated(estimator, X, reset=False):
    """``X`` as :func:`dask_rows` gives it, and its columns (an empty
    array-like) validated as the estimator validates rows in memory.

    The columns are validated first: a wrong number of features is told
    before any block is computed.
    """
    shape = getattr(X, "shape", None)
    if not hasattr(X, "to_dask_array") and shape is not None and len(shape) < 2:
        # check_array's words, of the array given: validated on the empty
        # columns, they showed "array=[]", as if no row had been given.
        got = "1D array" if len(shape) == 1 else "scalar array"
        raise ValueError(
            f"Expected 2D array, got {got} instead:\n"
            f"a Dask array of shape {shape} (its values are not computed here).\n"
            "Reshape your data either using array.reshape(-1, 1) if your data "
            "has a single feature or array.reshape(1, -1) if it contains a "
            "single sample."
        )
    meta = validate_data(
        estimator,
        _columns(X),
        reset=reset,
        accept_sparse="csr",
        dtype=(np.float64, np.float32),
        ensure_min_samples=0,
    )
    return dask_rows(X, meta.dtype), meta


def _block_outputs(X, coefs, intercepts, dtype, kind):
    X = check_array(
        X, accept_sparse="csr", dtype=dtype, ensure_min_samples=0, input_name="X"
    )
    if X.shape[0] == 0:
        return np.empty((0, coefs[-1].shape[1]), np.result_type(X, coefs[0]))
    return forward_log_proba(coefs, intercepts, X, 1, datafit=DATAFITS[kind]())


def _block_labels(log_proba, classes, kind):
    return DATAFITS[kind]().predict(log_proba, classes)


def outputs(estimator, X):
    """The outputs of a fitted estimator on a Dask array or DataFrame, as
    its datafit reads them (a classifier's log-probabilities, a regressor's
    predictions): a lazy Dask array, computed block by block."""
    X, meta = validated(estimator, X)
    dtype = meta.dtype
    coefs, intercepts = estimator.coefs_, estimator.intercepts_
    return X.map_blocks(
        _block_outputs,
        coefs,
        intercepts,
        dtype,
        estimator.out_activation_,
        dtype=np.result_type(dtype, coefs[0].dtype),
        chunks=(X.chunks[0], (coefs[-1].shape[1],)),
    )


def predict_log_proba(estimator, X):
    """``predict_log_proba`` of a fitted classifier on a Dask array or
    DataFrame: a lazy Dask array, computed block by block."""
    return outputs(estimator, X)


def predict_targets(estimator, X):
    """``predict`` of a fitted regressor on a Dask array or DataFrame: a
    lazy Dask array, 1-d for one output."""
    predictions = outputs(estimator, X)
    return predictions[:, 0] if predictions.shape[1] == 1 else predictions


def predict(estimator, X):
    """``predict`` of a classifier on a Dask array or DataFrame: a lazy Dask
    array, of labels or, for multilabel targets, of the indicator matrix
    (as the datafit predicts in memory)."""
    classes = estimator.classes_
    kind = estimator.out_activation_
    log_proba = predict_log_proba(estimator, X)
    if kind == "logistic":
        return log_proba.map_blocks(_block_labels, classes, kind, dtype=int)
    return log_proba.map_blocks(
        _block_labels, classes, kind, drop_axis=1, dtype=classes.dtype
    )


def _block_accuracy(y_pred, y_true, sample_weight):
    """``(right, total, weighs)`` of one block: the weight of its rows
    predicted right, its total weight, and whether any row weighs anything
    (its number of rows and True without weights).

    ``accuracy_score`` checks the block's labels and weights as it checks
    them in memory (NaN or a mix of target types in ``y``, NaN or infinite
    weights), with its messages. A block of zero weights is not refused
    here: only weights that are all zero over every block are, on the
    client.
    """
    n_rows = y_true.shape[0]
    if n_rows == 0:
        # accuracy_score refuses an empty block; it adds nothing.
        return 0.0, 0.0, False
    if sample_weight is None:
        return float(accuracy_score(y_true, y_pred, normalize=False)), n_rows, True
    # accuracy_score's own check of the weights (its _check_sample_weight).
    sample_weight = check_array(
        sample_weight, ensure_2d=False, dtype=None, input_name="sample_weight"
    )
    if not sample_weight.any():
        accuracy_score(y_true, y_pred)  # the checks of the labels
        return 0.0, 0.0, False
    right = accuracy_score(y_true, y_pred, normalize=False, sample_weight=sample_weight)
    return float(right), float(sample_weight.sum()), True


def _scored_blocks(predicted, y, sample_weight, targets):
    """``(predicted, y, sample_weight)`` of each block of the lazy
    ``predicted``, as delayed objects: ``y`` cut into its blocks by
    ``targets`` (:func:`dask_column`, or :func:`dask_targets` for a
    regressor's outputs), the weights None without any."""
    row_chunks = predicted.chunks[0]
    _validation.check_some_rows(sum(row_chunks), predicted.shape)
    columns = [predicted, targets(y, row_chunks, "y")]
    if sample_weight is not None:
        columns.append(dask_column(sample_weight, row_chunks, "sample_weight"))
    blocks = zip(*(column.to_delayed().ravel() for column in columns))
    if sample_weight is None:
        blocks = ((*block, None) for block in blocks)
    return blocks


def _score(estimator, X, y, sample_weight):
    """Weighted accuracy on a Dask array or DataFrame, computed by the
    cluster (or Dask's local scheduler) block by block and added up here,
    in block order, with ``accuracy_score``'s checks and errors."""
    import dask

    blocks = _scored_blocks(predict(estimator, X), y, sample_weight, dask_column)
    accuracy = dask.delayed(_block_accuracy, pure=True)
    (parts,) = dask.compute([accuracy(*block) for block in blocks])
    right, total, weighs = zip(*parts)
    # In memory, accuracy_score refuses weights that are all zero (since
    # scikit-learn 1.8; ZeroDivisionError before), and cannot divide by
    # weights that sum to zero.
    if not any(weighs):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if sum(total) == 0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    return float(sum(right) / sum(total))


def dask_targets(y, row_chunks, n_rows):
    """A regressor's ``y`` as a Dask array cut into the blocks of ``X``
    (``row_chunks``, ``n_rows`` rows): one column (a 1-d array or Series),
    as :func:`dask_column` gives it, or a 2-d array or DataFrame of one
    column per output."""
    import dask.array as da

    if hasattr(y, "to_dask_array") and getattr(y, "ndim", 1) == 2:
        y = y.to_dask_array(lengths=True)
    in_memory = not isinstance(y, da.Array) and not hasattr(y, "dask")
    if in_memory and np.ndim(y) == 2 and np.shape(y)[1] != 1:
        # Several outputs in memory (an array, a DataFrame), beside a Dask
        # X, as MLPRegressor takes them: they were sent to dask_column,
        # whose error spoke of multilabel classification.
        y = np.asarray(y)
        if len(y) != n_rows:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{n_rows}, {len(y)}]"
            )
        return da.from_array(y, chunks=(row_chunks, -1))
    if not (isinstance(y, da.Array) and y.ndim == 2):
        return dask_column(y, row_chunks, "y")
    y = with_known_chunks(y)
    if y.shape[0] != n_rows:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_rows}, {y.shape[0]}]"
        )
    return y.rechunk((row_chunks, -1))


def _block_r2_parts(predicted, y, sample_weight):
    from .cluster import r2_parts

    predicted = predicted.reshape(predicted.shape[0], -1)
    y = check_array(
        y, ensure_2d=False, dtype=np.float64, ensure_min_samples=0, input_name="y"
    ).reshape(predicted.shape)
    if sample_weight is None:
        sample_weight = np.ones(y.shape[0])
    parts = r2_parts(predicted, y, np.asarray(sample_weight, dtype=np.float64))
    # The block's rows, which a DataFrame of unknown divisions tells only here.
    return (*parts, y.shape[0])


def _regression_score(estimator, X, y, sample_weight):
    """Weighted R² on a Dask array or DataFrame, averaged over outputs as
    ``r2_score`` does, from the parts that each block computes where it is
    (``cluster.r2_parts``), added up here in block order."""
    import dask

    from .cluster import r2

    blocks = _scored_blocks(
        predict_targets(estimator, X),
        y,
        sample_weight,
        lambda y, row_chunks, name: dask_targets(y, row_chunks, sum(row_chunks)),
    )
    parts = dask.delayed(_block_r2_parts, pure=True)
    (parts,) = dask.compute([parts(*block) for block in blocks])
    # Weights of sum 0 only, as r2_score refuses them: negative ones it
    # takes (and so does the R² here), and they were refused in words
    # that said they were zero.
    if sum(part[1] for part in parts) == 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if sum(part[4] for part in parts) < 2:
        # r2_score's NaN and warning: a spread about the mean of one row is 0.
        warn_at_user_code(
            "R^2 score is not well-defined with less than two samples.",
            UndefinedMetricWarning,
        )
        return float("nan")
    return r2(parts)


def scored_where_the_rows_are(score):
    """``score`` (``ClassifierMixin.score`` or ``RegressorMixin.score``),
    except that the accuracy, or the R², on a Dask array or DataFrame is
    computed where its blocks are."""

    @functools.wraps(score)
    def dask_aware_score(estimator, X, y, sample_weight=None):
        if is_dask_collection(X):
            model = _validation.fitted_view(estimator)
            if is_classifier(model):
                return _score(model, X, y, sample_weight)
            return _regression_score(model, X, y, sample_weight)
        return score(estimator, X, y, sample_weight)

    return dask_aware_score
