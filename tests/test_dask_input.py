"""Dask arrays and DataFrames as input, without a cluster: Dask's synchronous
scheduler computes the blocks in this process. The rows cut into blocks and
validated as in memory, the columns of y and the sample weights cut into
the same blocks, and the lazy predictions and the score against the
in-memory results. (The same on a cluster of processes:
tests/test_dask_cluster.py.)"""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier
from skmlp._dask.input import (
    dask_column,
    dask_rows,
    is_dask_collection,
    predict,
    predict_log_proba,
    scored_where_the_rows_are,
    validated,
    with_known_chunks,
)

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")

# Uneven blocks: 100 rows in blocks of 30, 30, 30 and 10.
BLOCK = 30
N_ROWS = 100


@pytest.fixture(autouse=True)
def synchronous_scheduler():
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=N_ROWS, n_features=5, n_informative=3, n_redundant=0,
        n_classes=3, random_state=0,
    )  # fmt: skip
    weights = np.random.default_rng(0).uniform(0.1, 2.0, size=N_ROWS)
    return StandardScaler().fit_transform(X), y, weights


def _quiet_fit(hidden, X, y, **fit_params):
    """A short fit, without its ConvergenceWarning."""
    clf = SoftplusMLPClassifier(hidden_layer_sizes=hidden, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y, **fit_params)


@pytest.fixture(scope="module")
def fitted(data):
    X, y, weights = data
    return _quiet_fit((4,), X, y, sample_weight=weights)


def _counted(X, counter):
    """``X`` as a Dask array in blocks of ``BLOCK`` rows that counts in
    ``counter`` the blocks computed."""

    def count(block):
        counter.append(len(block))
        return block

    # (meta: map_blocks would otherwise call count on an empty block to
    # learn what it returns.)
    return da.from_array(X, chunks=(BLOCK, -1)).map_blocks(
        count, meta=np.empty((0, X.shape[1]), X.dtype)
    )


# --- is_dask_collection ---


def test_is_dask_collection(data):
    X, y, _ = data
    assert is_dask_collection(da.from_array(X))
    assert is_dask_collection(dd.from_pandas(pd.DataFrame(X), npartitions=2))
    assert is_dask_collection(dd.from_pandas(pd.Series(y), npartitions=2))
    assert is_dask_collection(dask.delayed(sum)([1, 2]))
    for not_dask in (X, X.tolist(), pd.DataFrame(X), pd.Series(y), None, 3):
        assert not is_dask_collection(not_dask)


def test_is_dask_collection_does_not_import_dask():
    code = (
        "import sys, numpy; from skmlp._dask.input import is_dask_collection; "
        "print(is_dask_collection(numpy.ones(2)), 'dask' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# --- dask_rows, with_known_chunks ---


def test_dask_rows_puts_all_columns_in_each_block(data):
    X, _, _ = data
    rows = dask_rows(da.from_array(X, chunks=(BLOCK, 2)), X.dtype)
    assert rows.chunks == ((30, 30, 30, 10), (5,))
    assert_array_equal(rows.compute(), X)


def test_dask_rows_of_a_dataframe_has_its_partitions_as_blocks(data):
    X, _, _ = data
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    rows = dask_rows(frame, X.dtype)
    assert len(rows.chunks[0]) == 3
    assert sum(rows.chunks[0]) == N_ROWS
    assert not any(np.isnan(rows.chunks[0]))
    assert_array_equal(rows.compute(), X)


def test_dask_rows_converts_nullable_columns_as_check_array():
    # <NA> of a nullable column becomes NaN (which the checks then refuse in
    # scikit-learn's words), not pd.NA in an object block.
    frame = pd.DataFrame({"a": pd.array([1, None, 3, 4], dtype="Int64"), "b": 1.5})
    rows = dask_rows(dd.from_pandas(frame, npartitions=2), np.float64)
    values = rows.compute()
    assert values.dtype == np.float64
    assert_array_equal(values, [[1, 1.5], [np.nan, 1.5], [3, 1.5], [4, 1.5]])


def test_with_known_chunks_computes_unknown_block_sizes(data):
    X, _, _ = data
    keep = X[:, 0] > 0
    masked = da.from_array(X, chunks=(BLOCK, -1))[da.from_array(keep, chunks=BLOCK)]
    assert np.isnan(masked.chunks[0]).all()
    known = with_known_chunks(masked)
    expected = tuple(int(keep[k : k + BLOCK].sum()) for k in range(0, N_ROWS, BLOCK))
    assert known.chunks[0] == expected
    assert_array_equal(known.compute(), X[keep])
    # Known sizes are kept as they are.
    whole = da.from_array(X, chunks=(BLOCK, -1))
    assert with_known_chunks(whole) is whole


# --- dask_column ---

ROW_CHUNKS = (30, 30, 30, 10)


def test_dask_column_cuts_into_the_blocks_of_x(data):
    _, y, weights = data
    for values in (y, da.from_array(y, chunks=45), list(y)):
        column = dask_column(values, ROW_CHUNKS, "y")
        assert column.chunks == (ROW_CHUNKS,)
        assert_array_equal(column.compute(), y)
    series = dd.from_pandas(pd.Series(weights), npartitions=2)
    column = dask_column(series, ROW_CHUNKS, "sample_weight")
    assert column.chunks == (ROW_CHUNKS,)
    assert_array_equal(column.compute(), weights)


def test_a_scalar_weight_is_one_weight_for_every_row():
    column = dask_column(2.5, ROW_CHUNKS, "sample_weight")
    assert column.chunks == (ROW_CHUNKS,)
    assert_array_equal(column.compute(), np.full(N_ROWS, 2.5))


@pytest.mark.parametrize("kind", ["array", "frame"])
def test_a_column_y_is_one_label_per_row_with_the_warning_of_fit(data, kind):
    _, y, _ = data
    column = y[:, None]
    if kind == "frame":
        column = dd.from_pandas(pd.DataFrame({"label": y}), npartitions=2)
    else:
        column = da.from_array(column, chunks=(BLOCK, 1))
    with pytest.warns(DataConversionWarning, match="column-vector y was passed"):
        values = dask_column(column, ROW_CHUNKS, "y", warn=True)
    assert values.ndim == 1
    assert_array_equal(values.compute(), y)
    # Without warn (score), silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_array_equal(dask_column(column, ROW_CHUNKS, "y").compute(), y)


def test_dask_column_refusals(data):
    _, y, weights = data
    with pytest.raises(ValueError, match="Multilabel targets .* train in memory"):
        dask_column(np.eye(3, dtype=int)[y], ROW_CHUNKS, "y")
    # _check_sample_weight's words.
    with pytest.raises(ValueError, match="Sample weights must be 1D array or scalar"):
        dask_column(np.ones((N_ROWS, 2)), ROW_CHUNKS, "sample_weight")
    with pytest.raises(ValueError, match="y should be a 1d array"):
        dask_column(np.ones((N_ROWS, 2, 2)), ROW_CHUNKS, "y")
    with pytest.raises(
        ValueError, match=r"inconsistent numbers of samples: \[100, 99\]"
    ):
        dask_column(weights[:-1], ROW_CHUNKS, "sample_weight")


def test_a_nullable_series_becomes_floats_with_nan():
    series = pd.Series(pd.array([1, None, 3, 4], dtype="Int64"))
    column = dask_column(dd.from_pandas(series, npartitions=2), (2, 2), "y")
    values = column.compute()
    assert values.dtype == np.float64
    assert_array_equal(values, [1, np.nan, 3, 4])


# --- validated ---


def test_validated_checks_the_columns_before_any_block(fitted, data):
    X, _, _ = data
    counter = []
    with pytest.raises(ValueError, match="X has 4 features, but .* expecting 5"):
        validated(fitted, _counted(X[:, :4], counter))
    assert counter == []
    rows, meta = validated(fitted, _counted(X.astype(np.float32), counter))
    assert counter == []
    assert meta.shape == (0, 5)
    assert meta.dtype == rows.dtype == np.float32


def test_a_1d_array_is_refused_in_check_arrays_words_with_its_shape(fitted, data):
    # Validated on its empty columns, the message showed "array=[]", as if
    # no row had been given.
    X, _, _ = data
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array") as error:
        validated(fitted, da.from_array(X[:, 0], chunks=BLOCK))
    assert "a Dask array of shape (100,)" in str(error.value)
    assert "array=[]" not in str(error.value)
    with pytest.raises(ValueError, match="Expected 2D array, got scalar array"):
        validated(fitted, da.from_array(np.array(1.0)))


def test_validated_on_reset_learns_the_feature_names(data):
    X, _, _ = data
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcde")), npartitions=2)
    model = SoftplusMLPClassifier()
    validated(model, frame, reset=True)
    assert model.n_features_in_ == 5
    assert_array_equal(model.feature_names_in_, list("abcde"))
    # And checks them on the next call, as in memory.
    renamed = dd.from_pandas(pd.DataFrame(X, columns=list("vwxyz")), npartitions=2)
    with pytest.raises(ValueError, match="feature names should match"):
        validated(model, renamed)


def test_integers_are_validated_as_float64(data):
    X, _, _ = data
    model = SoftplusMLPClassifier()
    rows, meta = validated(model, da.from_array((X * 10).astype(int)), reset=True)
    assert meta.dtype == np.float64


# --- predictions and score ---


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predictions_are_lazy_and_match_in_memory(fitted, data, dtype):
    X, _, _ = data
    X = X.astype(dtype)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        counter = []
        lazy = getattr(fitted, method)(_counted(X, counter))
        assert isinstance(lazy, da.Array)
        assert counter == []
        assert lazy.chunks[0] == ROW_CHUNKS
        computed = lazy.compute()
        assert len(counter) == len(ROW_CHUNKS)
        expected = getattr(fitted, method)(X)
        assert computed.dtype == expected.dtype
        assert lazy.dtype == expected.dtype
        assert_allclose(computed, expected, rtol=1e-12 if dtype == np.float64 else 1e-5)


def test_the_functions_are_those_the_estimator_uses(fitted, data):
    X, _, _ = data
    X_dask = da.from_array(X, chunks=(BLOCK, -1))
    assert_allclose(
        predict_log_proba(fitted, X_dask).compute(),
        fitted.predict_log_proba(X),
        rtol=1e-12,
    )
    assert_array_equal(predict(fitted, X_dask).compute(), fitted.predict(X))


def test_predictions_of_labels_that_are_strings(data):
    X, y, _ = data
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, labels)
    lazy = clf.predict(da.from_array(X, chunks=(BLOCK, -1)))
    assert lazy.dtype == clf.classes_.dtype
    assert_array_equal(lazy.compute(), clf.predict(X))


def test_predictions_on_a_dataframe_with_an_empty_partition(fitted, data):
    X, _, _ = data
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=2)
    # Keep no row of the first partition.
    kept = frame.map_partitions(lambda part: part[part.index >= 50], meta=frame._meta)
    assert list(kept.map_partitions(len).compute()) == [0, 50]
    proba = fitted.predict_proba(kept).compute()
    assert_allclose(proba, fitted.predict_proba(X[50:]), rtol=1e-12)


def test_score_matches_in_memory(fitted, data):
    X, y, weights = data
    X_dask = da.from_array(X, chunks=(BLOCK, -1))
    y_dask = da.from_array(y, chunks=45)
    assert fitted.score(X_dask, y_dask) == pytest.approx(fitted.score(X, y), abs=0)
    assert fitted.score(X_dask, y, weights) == pytest.approx(
        fitted.score(X, y, sample_weight=weights), rel=1e-13
    )
    # A weighted accuracy by hand: the weight of the rows predicted right.
    right = fitted.predict(X) == y
    assert fitted.score(X_dask, y, weights) == pytest.approx(
        weights[right].sum() / weights.sum(), rel=1e-13
    )
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    labels = dd.from_pandas(pd.Series(y), npartitions=3)
    assert fitted.score(frame, labels) == pytest.approx(fitted.score(X, y), abs=0)


def test_score_with_zero_weights_in_some_blocks(fitted, data):
    # Blocks of zero weight add nothing; only all zero is refused.
    X, y, weights = data
    weights = weights.copy()
    weights[:60] = 0.0
    X_dask = da.from_array(X, chunks=(BLOCK, -1))
    assert fitted.score(X_dask, y, weights) == pytest.approx(
        fitted.score(X, y, sample_weight=weights), rel=1e-13
    )
    with pytest.raises(ValueError, match="at least one non-zero number"):
        fitted.score(X_dask, y, np.zeros(N_ROWS))


def test_score_refuses_what_memory_refuses(fitted, data):
    X, y, weights = data
    X_dask = da.from_array(X, chunks=(BLOCK, -1))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fitted.score(X_dask, y[:-1])
    bad = weights.copy()
    bad[70] = np.nan
    with pytest.raises(ValueError, match="Input sample_weight contains NaN"):
        fitted.score(X_dask, y, bad)
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        fitted.score(da.from_array(X[:0], chunks=(BLOCK, -1)), y[:0])


def test_scored_where_the_rows_are_keeps_the_in_memory_score(fitted, data):
    X, y, weights = data
    score = scored_where_the_rows_are(ClassifierMixin.score)
    assert score.__doc__ == ClassifierMixin.score.__doc__
    assert score(fitted, X, y, weights) == ClassifierMixin.score(fitted, X, y, weights)
    X_dask = da.from_array(X, chunks=(BLOCK, -1))
    assert score(fitted, X_dask, y) == pytest.approx(fitted.score(X, y), abs=0)
    with pytest.raises(NotFittedError):
        score(SoftplusMLPClassifier(), X_dask, y)


def test_a_float32_model_predicts_float32_lazily(data):
    # The lazy array's declared dtype is the one its blocks compute: that of
    # the rows and the weights together.
    X, y, _ = data
    X32 = X.astype(np.float32)
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X32, y)
    assert clf.coefs_[0].dtype == np.float32
    lazy = clf.predict_log_proba(da.from_array(X32, chunks=(BLOCK, -1)))
    expected = clf.predict_log_proba(X32)
    assert lazy.dtype == expected.dtype == np.float32
    computed = lazy.compute()
    assert computed.dtype == np.float32
    assert_allclose(computed, expected, rtol=1e-5)
    # float64 rows on the float32 model: as in memory.
    lazy = clf.predict_log_proba(da.from_array(X, chunks=(BLOCK, -1)))
    assert lazy.dtype == lazy.compute().dtype == clf.predict_log_proba(X).dtype


@pytest.fixture(scope="module")
def fitted_on_names(data):
    X, y, _ = data
    return _quiet_fit((3,), X, np.array(["ant", "bee", "cat"])[y])


@pytest.mark.parametrize(
    "as_objects",
    [
        lambda names: names.astype(object),
        lambda names: pd.Series(names, dtype=object),
        lambda names: list(names.astype(object)),
    ],
)
def test_labels_held_in_memory_as_objects(fitted_on_names, data, as_objects):
    # A y of Python objects in memory (a pandas column of object dtype) is
    # taken in memory; Dask cannot choose the blocks of an object array
    # itself (it cannot tell its size in bytes): it is cut into X's blocks.
    X, y, weights = data
    labels = as_objects(np.array(["ant", "bee", "cat"])[y])
    column = dask_column(labels, ROW_CHUNKS, "y")
    assert column.chunks == (ROW_CHUNKS,)
    assert_array_equal(column.compute(), np.asarray(labels))
    X_dask = da.from_array(X, chunks=(BLOCK, -1))
    expected = fitted_on_names.score(X, labels, weights)
    assert 0 < expected < 1
    assert fitted_on_names.score(X_dask, labels, weights) == pytest.approx(
        expected, rel=1e-13
    )
    # Weights as objects too, as _check_sample_weight converts them.
    column = dask_column(np.asarray(weights, dtype=object), ROW_CHUNKS, "sample_weight")
    assert_array_equal(column.compute(), weights)


def test_numbers_as_objects_are_refused_as_in_memory(fitted, data):
    # An object array of ints is of an unknown target type to scikit-learn.
    X, y, _ = data
    labels = y.astype(object)
    with pytest.raises(ValueError, match="mix of unknown and multiclass") as memory:
        fitted.score(X, labels)
    with pytest.raises(ValueError) as on_dask:
        fitted.score(da.from_array(X, chunks=(BLOCK, -1)), labels)
    assert str(on_dask.value) == str(memory.value)


def test_a_multilabel_model_predicts_dask_input_as_it_predicts_in_memory():
    # The indicator matrix of the labels of probability above 0.5, and the
    # logistic probabilities, not a softmax's argmax.
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(200, 5, n_classes=3, random_state=0)
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y)
    X_dask = da.from_array(X, chunks=50)
    assert_array_equal(clf.predict(X_dask).compute(), clf.predict(X))
    assert_allclose(
        clf.predict_proba(X_dask).compute(), clf.predict_proba(X), rtol=1e-13
    )


def test_a_dask_categorical_of_numbers_is_numbers_and_of_strings_is_refused():
    # astype("category") leaves Dask's categories unknown: a placeholder,
    # a string, which had numbers refused as strings (a regression of the
    # check of string categories). The categories are computed to decide.
    from skmlp import SoftplusMLPRegressor

    X = np.random.default_rng(0).normal(size=(40, 3))
    numbers = dd.from_pandas(pd.Series([1.5, 2.5] * 20), npartitions=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftplusMLPRegressor(max_iter=2, random_state=0)
        model.fit(X, numbers.astype("category"))
        same = SoftplusMLPRegressor(max_iter=2, random_state=0)
        same.fit(X, np.array([1.5, 2.5] * 20))
    assert_array_equal(model.predict(X), same.predict(X))
    with pytest.raises(ValueError, match="y holds strings"):
        SoftplusMLPRegressor(max_iter=2).fit(X, numbers.astype(str).astype("category"))
