"""ONNX export: skl2onnx conversion, checked against onnxruntime.

Skipped when skl2onnx or onnxruntime (the ``onnx`` extra) is not installed,
except the test that skmlp itself never imports skl2onnx.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmlp
from skmlp import SoftplusMLPClassifier


@pytest.fixture(scope="module")
def onnx_runtime():
    """``(to_onnx, run)``: the converter registered, and a function that
    runs a model in onnxruntime and returns its outputs by name."""
    skl2onnx = pytest.importorskip("skl2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    skmlp.register_onnx_converter()

    def run(model, X):
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        outputs = session.run(None, {session.get_inputs()[0].name: X})
        return {out.name: value for out, value in zip(session.get_outputs(), outputs)}

    return skl2onnx.to_onnx, run


def _data(n_classes, n_samples=200):
    X, y = make_classification(
        n_samples=n_samples, n_features=6, n_informative=4, n_redundant=0,
        n_classes=n_classes, random_state=0,
    )  # fmt: skip
    # Features far from unit scale, so that the scaler in a pipeline matters
    # and the hidden pre-activations reach the range where a naive softplus
    # overflows in float32.
    X = X * [1, 10, 100, 1, 0.1, 30] + 5
    return X.astype(np.float32), y


def _fit(X, y, **params):
    params = {
        "hidden_layer_sizes": (8, 5),
        "learning_rate_init": 0.1,
        "max_iter": 60,
        "random_state": 0,
        **params,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftplusMLPClassifier(**params).fit(X, y)


LABELS = {
    "int": lambda y: y + 3,
    "str": lambda y: np.array(["ant", "bee", "cat", "dog"])[y],
    "bool": lambda y: y == 1,
    "whole-float": lambda y: y.astype(np.float64),
}


@pytest.mark.parametrize(
    "labels, n_classes",
    [("int", 2), ("int", 3), ("str", 2), ("str", 3), ("bool", 2), ("whole-float", 3)],
)
@pytest.mark.parametrize("hidden_layer_sizes", [(), (8, 5)])
def test_onnxruntime_matches_predict_and_predict_proba_in_float32(
    onnx_runtime, labels, n_classes, hidden_layer_sizes
):
    to_onnx, run = onnx_runtime
    X, y = _data(n_classes)
    y = LABELS[labels](y)
    clf = _fit(X, y, hidden_layer_sizes=hidden_layer_sizes)
    model = to_onnx(clf, X[:1], options={SoftplusMLPClassifier: {"zipmap": False}})
    out = run(model, X)

    assert out["probabilities"].dtype == np.float32
    assert_allclose(out["probabilities"], clf.predict_proba(X), atol=1e-5)
    expected = clf.predict(X)
    if labels == "str":
        assert_array_equal(out["label"], expected)
    else:
        assert out["label"].dtype == np.int64
        assert_array_equal(out["label"], expected.astype(np.int64))


def test_graph_is_matmul_add_softplus_softmax_argmax(onnx_runtime):
    to_onnx, _ = onnx_runtime
    X, y = _data(3)
    clf = _fit(X, y)
    model = to_onnx(clf, X[:1], options={SoftplusMLPClassifier: {"zipmap": False}})
    operators = [node.op_type for node in model.graph.node]
    assert operators.count("MatMul") == operators.count("Add") == 3
    assert operators.count("Softplus") == 2
    assert operators.count("Softmax") == operators.count("ArgMax") == 1


def test_default_zipmap_gives_one_dict_of_probabilities_per_row(onnx_runtime):
    to_onnx, run = onnx_runtime
    X, y = _data(3)
    clf = _fit(X, y + 3)
    out = run(to_onnx(clf, X[:1]), X)
    probabilities = out["output_probability"]
    assert len(probabilities) == len(X)
    assert all(sorted(row) == [3, 4, 5] for row in probabilities)
    as_array = np.array(
        [[row[label] for label in clf.classes_] for row in probabilities]
    )
    assert_allclose(as_array, clf.predict_proba(X), atol=1e-5)
    assert_array_equal(out["output_label"], clf.predict(X))


def test_zipmap_columns_gives_one_output_per_class(onnx_runtime):
    to_onnx, run = onnx_runtime
    X, y = _data(3)
    clf = _fit(X, y)
    model = to_onnx(clf, X[:1], options={SoftplusMLPClassifier: {"zipmap": "columns"}})
    out = run(model, X)
    proba = clf.predict_proba(X)
    for k in range(3):
        assert_allclose(out[f"i{k}"], proba[:, k], atol=1e-5)


def test_nocl_replaces_labels_by_their_indices(onnx_runtime):
    to_onnx, run = onnx_runtime
    X, y = _data(3)
    clf = _fit(X, np.array(["ant", "bee", "cat"])[y])
    options = {SoftplusMLPClassifier: {"zipmap": False, "nocl": True}}
    out = run(to_onnx(clf, X[:1], options=options), X)
    assert_array_equal(out["label"], np.argmax(clf.predict_proba(X), axis=1))


def test_pipeline_with_standard_scaler_converts(onnx_runtime):
    to_onnx, run = onnx_runtime
    X, y = _data(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline = make_pipeline(
            StandardScaler(),
            SoftplusMLPClassifier(
                hidden_layer_sizes=(8,),
                learning_rate_init=0.1,
                max_iter=60,
                random_state=0,
            ),
        ).fit(X, y)
    out = run(to_onnx(pipeline, X[:1], options={"zipmap": False}), X)
    assert_allclose(out["probabilities"], pipeline.predict_proba(X), atol=1e-5)
    assert_array_equal(out["label"], pipeline.predict(X))
    # On scaled features the network learns the problem, so the labels
    # compared are those of a working model, not a constant.
    assert pipeline.score(X, y) > 0.8


def test_float64_input_gives_a_float64_graph(onnx_runtime):
    # onnxruntime has no float64 Softplus kernel: the graph spells it out.
    to_onnx, run = onnx_runtime
    X, y = _data(3)
    X = X.astype(np.float64)
    clf = _fit(X, y)
    model = to_onnx(clf, X[:1], options={SoftplusMLPClassifier: {"zipmap": False}})
    out = run(model, X)
    assert out["probabilities"].dtype == np.float64
    assert_allclose(out["probabilities"], clf.predict_proba(X), rtol=1e-12, atol=1e-14)
    assert_array_equal(out["label"], clf.predict(X))


def test_importing_skmlp_does_not_import_skl2onnx():
    code = "import sys, skmlp; print('skl2onnx' in sys.modules, 'onnx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multilabel_model_converts_as_skl2onnx_converts_mlpclassifiers(
    onnx_runtime, dtype
):
    # skl2onnx's MLPClassifier converter: the probability of each label, and
    # as label the int64 indicator matrix that predict returns.
    to_onnx, run = onnx_runtime
    X, y = make_multilabel_classification(n_samples=120, random_state=0)
    X = StandardScaler().fit_transform(X).astype(dtype)
    clf = _fit(X, y, hidden_layer_sizes=(8,))
    model = to_onnx(clf, X[:1], options={SoftplusMLPClassifier: {"zipmap": False}})
    label_shape = model.graph.output[0].type.tensor_type.shape.dim
    assert [dim.dim_value for dim in label_shape][1:] == [y.shape[1]]
    out = run(model, X)
    assert_allclose(out["probabilities"], clf.predict_proba(X), atol=1e-5)
    # The threshold in float32 may flip only a label of probability 0.5.
    expected = clf.predict(X)
    assert out["label"].dtype == np.int64
    flipped = out["label"] != expected
    assert_allclose(clf.predict_proba(X)[flipped], 0.5, atol=1e-5)
    assert 0 < expected.mean() < 1


def test_multilabel_zipmap_gives_one_dict_of_label_probabilities_per_row(
    onnx_runtime,
):
    to_onnx, run = onnx_runtime
    X, y = make_multilabel_classification(n_samples=60, random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    clf = _fit(X, y, hidden_layer_sizes=(8,))
    out = run(to_onnx(clf, X[:1]), X)
    rows = out["output_probability"]
    as_array = np.array([[row[k] for k in range(y.shape[1])] for row in rows])
    assert_allclose(as_array, clf.predict_proba(X), atol=1e-5)


def _regression_data(n_outputs, loss):
    from sklearn.datasets import make_regression

    X, y = make_regression(
        n_samples=200, n_features=6, n_targets=n_outputs, noise=1.0, random_state=0
    )
    y = y / np.std(y)
    if loss == "poisson":
        y = np.random.RandomState(0).poisson(np.exp(y / 2)).astype(float)
    return (X * [1, 10, 100, 1, 0.1, 30] + 5).astype(np.float32), y


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regressor_pipeline_converts_as_skl2onnx_converts_mlpregressors(
    onnx_runtime, loss, n_outputs, dtype
):
    # One output, "variable", of shape (n_samples, n_outputs), the predicted
    # targets: exp of the output layer for the Poisson loss.
    to_onnx, run = onnx_runtime
    from skmlp import SoftplusMLPRegressor

    X, y = _regression_data(n_outputs, loss)
    X = X.astype(dtype)
    pipeline = make_pipeline(
        StandardScaler(),
        SoftplusMLPRegressor(
            loss=loss, hidden_layer_sizes=(8, 5), max_iter=60, random_state=0
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, y)
    outputs = run(to_onnx(pipeline, X[:1]), X)
    assert list(outputs) == ["variable"]
    variable = outputs["variable"]
    assert variable.dtype == dtype
    assert variable.shape == (len(X), n_outputs)
    expected = pipeline.predict(X).reshape(len(X), n_outputs)
    # The predictions vary: a model that predicts one constant would not
    # test the layers.
    assert np.std(expected) > 0.1 * np.mean(np.abs(expected))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(variable, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_regressor_graph_is_matmul_add_softplus_then_exp_for_poisson(onnx_runtime):
    to_onnx, _ = onnx_runtime
    from skmlp import SoftplusMLPRegressor

    X, y = _regression_data(1, "poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftplusMLPRegressor(
            loss="poisson", hidden_layer_sizes=(4,), max_iter=5, random_state=0
        ).fit(X, y)
    ops = [node.op_type for node in to_onnx(model, X[:1]).graph.node]
    assert ops == ["MatMul", "Add", "Softplus", "MatMul", "Add", "Exp"]


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_dataframe_of_several_inputs_is_refused_as_skl2onnx_refuses_it(
    onnx_runtime, kind
):
    # skl2onnx makes one graph input per column of a DataFrame; the
    # converters take one tensor, as skl2onnx's own MLP converters do. The
    # regressor's used to accept three and read the first column alone,
    # writing a graph that onnxruntime could not load.
    pd = pytest.importorskip("pandas")
    from skl2onnx.common.utils import InvalidInputLengthException

    from skmlp import SoftplusMLPRegressor

    to_onnx, _ = onnx_runtime
    X, y = _data(2)
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    estimator = SoftplusMLPClassifier if kind == "classifier" else SoftplusMLPRegressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = estimator(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
        model.fit(frame, y)
    with pytest.raises(InvalidInputLengthException, match="but we got 3 input"):
        to_onnx(model, frame[:1])
    # One tensor of the three columns converts.
    assert len(to_onnx(model, X[:1, :3]).graph.input) == 1


def test_an_unfitted_regressor_is_refused_with_scikit_learns_not_fitted_error(
    onnx_runtime,
):
    # Its own shape calculator read n_outputs_: an AttributeError from
    # inside skl2onnx. (An unfitted classifier fails before, in skl2onnx's
    # parser, with its RuntimeError, as MLPClassifier does.)
    from sklearn.exceptions import NotFittedError

    from skmlp import SoftplusMLPRegressor

    to_onnx, _ = onnx_runtime
    with pytest.raises(NotFittedError):
        to_onnx(SoftplusMLPRegressor(), np.zeros((1, 4), np.float32))
