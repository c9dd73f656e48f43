"""Saving and loading a fitted classifier: joblib (pickle) and skops.

skops tests skip when skops (the ``skops`` extra) is not installed.
"""

import io
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from fitting import assert_same_model, classifier, fit_quietly, no_stop, scaled_iris
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import InconsistentVersionWarning as SklearnVersionWarning

import skmlp
from skmlp import SoftplusMLPClassifier

# Any warning a test does not expect fails it (pytest.warns or a filter names
# the expected ones).
pytestmark = pytest.mark.filterwarnings("error")

ESTIMATOR_CLASS = "skmlp._mlp.SoftplusMLPClassifier"
LR = 0.1  # passed explicitly: the default may change


@pytest.fixture(scope="module")
def data():
    return make_classification(
        n_samples=120, n_features=5, n_informative=4, n_redundant=0,
        n_classes=3, random_state=0,
    )  # fmt: skip


def _fit(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _clf(max_iter=15, **params).fit(X, y)


def _clf(**params):
    params = {
        "hidden_layer_sizes": (6,),
        "learning_rate_init": LR,
        "random_state": 0,
        **params,
    }
    return SoftplusMLPClassifier(**params)


# Every kind of fitted state: both solvers, mini-batches (the RNG is kept),
# the adaptive step of 'auto' (its last point and gradient),
# early stopping, a RandomState instance as random_state, and partial_fit
# (which keeps NAG's momentum between calls).
FITTED_STATES = {
    "gd": {"solver": "gd"},
    "nag": {"solver": "nag"},
    "mini-batch": {"solver": "nag", "batch_size": 32},
    "auto-full-batch": {"solver": "nag", "learning_rate_init": "auto"},
    "early-stopping": {"early_stopping": True, "validation_fraction": 0.2},
}
ALL_STATES = [*FITTED_STATES, "random-state-instance", "partial-fit"]


def _fitted(name, X, y):
    if name == "random-state-instance":
        return _fit(X, y, batch_size=32, random_state=np.random.RandomState(3))
    if name == "partial-fit":
        clf = _clf()
        for _ in range(3):
            clf.partial_fit(X, y, classes=np.unique(y))
        return clf
    return _fit(X, y, **FITTED_STATES[name])


def test_joblib_round_trip_gives_identical_predictions(data, tmp_path):
    X, y = data
    clf = _fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path)
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.get_params() == clf.get_params()


@pytest.mark.parametrize("name", ALL_STATES)
def test_skops_round_trip_gives_identical_predictions(data, tmp_path, name):
    sio = pytest.importorskip("skops.io")
    X, y = data
    clf = _fitted(name, X, y)
    path = tmp_path / "model.skops"
    sio.dump(clf, path)
    loaded = sio.load(path, trusted=[ESTIMATOR_CLASS])
    assert type(loaded) is SoftplusMLPClassifier
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    for attribute in ("n_iter_", "t_", "loss_curve_", "n_features_in_"):
        assert getattr(loaded, attribute) == getattr(clf, attribute)
    assert_array_equal(loaded.classes_, clf.classes_)


@pytest.mark.parametrize("name", ALL_STATES)
def test_skops_file_asks_to_trust_only_the_estimator_class(data, name):
    # Everything else in the file (arrays, floats, the solver's state, a
    # RandomState) is of a type skops knows to be safe.
    sio = pytest.importorskip("skops.io")
    X, y = data
    dumped = sio.dumps(_fitted(name, X, y))
    assert sio.get_untrusted_types(data=dumped) == [ESTIMATOR_CLASS]


def test_skops_load_without_trusting_the_estimator_raises(data):
    sio = pytest.importorskip("skops.io")
    from skops.io.exceptions import UntrustedTypesFoundException

    X, y = data
    dumped = sio.dumps(_fit(X, y))
    with pytest.raises(UntrustedTypesFoundException, match="SoftplusMLPClassifier"):
        sio.loads(dumped)
    # Trusting the class itself works as well as trusting its name.
    loaded = sio.loads(dumped, trusted=[SoftplusMLPClassifier])
    assert_array_equal(loaded.predict(X), _fit(X, y).predict(X))


@pytest.mark.parametrize("learning_rate_init", [LR, "auto"])
@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_partial_fit_continues_identically_after_a_skops_round_trip(
    data, solver, learning_rate_init
):
    # The solver's state (NAG's previous iterate and t; with 'auto' the
    # adaptive step's last point and gradient) survives the file.
    sio = pytest.importorskip("skops.io")
    X, y = data
    classes = np.unique(y)
    clf = _clf(solver=solver, learning_rate_init=learning_rate_init)
    for _ in range(3):
        clf.partial_fit(X, y, classes=classes)
    loaded = sio.loads(sio.dumps(clf), trusted=[ESTIMATOR_CLASS])
    for _ in range(2):
        clf.partial_fit(X, y)
        loaded.partial_fit(X, y)
    for coef, loaded_coef in zip(clf.coefs_, loaded.coefs_):
        assert_array_equal(loaded_coef, coef)
    assert loaded.n_iter_ == clf.n_iter_ == 5
    assert loaded.learning_rate_ == clf.learning_rate_


def _dumps_as_version(monkeypatch, dumps, clf, version):
    with monkeypatch.context() as patch:
        patch.setattr(skmlp, "__version__", version)
        return dumps(clf)


@pytest.mark.parametrize("library", ["pickle", "skops"])
def test_loading_a_model_saved_by_another_skmlp_version_warns(
    data, monkeypatch, library
):
    if library == "skops":
        sio = pytest.importorskip("skops.io")
        dumps = sio.dumps

        def loads(dumped):
            return sio.loads(dumped, trusted=[ESTIMATOR_CLASS])
    else:
        dumps, loads = pickle.dumps, pickle.loads
    X, y = data
    clf = _fit(X, y)
    dumped = _dumps_as_version(monkeypatch, dumps, clf, "0.0.1")

    with pytest.warns(skmlp.InconsistentVersionWarning) as record:
        loaded = loads(dumped)
    (warning,) = [w.message for w in record]
    assert warning.estimator_name == "SoftplusMLPClassifier"
    assert warning.original_version == "0.0.1"
    assert warning.current_version == skmlp.__version__
    message = str(warning)
    assert "from skmlp version 0.0.1" in message
    assert f"using skmlp version {skmlp.__version__}" in message
    # The warning does not stop the model from loading.
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_loading_a_model_saved_by_the_same_version_does_not_warn(data):
    X, y = data
    clf = _fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(pickle.dumps(clf))
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_version_warning_is_caught_by_a_filter_for_scikit_learns(data, monkeypatch):
    X, y = data
    dumped = _dumps_as_version(monkeypatch, pickle.dumps, _fit(X, y), "0.0.1")
    assert issubclass(skmlp.InconsistentVersionWarning, SklearnVersionWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SklearnVersionWarning)
        with pytest.raises(skmlp.InconsistentVersionWarning) as excinfo:
            pickle.loads(dumped)
    # A handler written for scikit-learn's warning finds its attributes.
    warning = excinfo.value
    assert warning.estimator_name == "SoftplusMLPClassifier"
    assert warning.original_sklearn_version == warning.original_version == "0.0.1"
    assert warning.current_sklearn_version == skmlp.__version__


@pytest.mark.parametrize("library", ["pickle", "joblib", "skops"])
def test_version_warning_points_at_the_line_that_loads(
    data, monkeypatch, tmp_path, library
):
    X, y = data
    clf = _fit(X, y)
    if library == "skops":
        sio = pytest.importorskip("skops.io")
        dumped = _dumps_as_version(monkeypatch, sio.dumps, clf, "0.0.1")

        def load():
            return sio.loads(dumped, trusted=[ESTIMATOR_CLASS])
    elif library == "joblib":
        path = tmp_path / "model.joblib"
        _dumps_as_version(
            monkeypatch, lambda model: joblib.dump(model, path), clf, "0.0.1"
        )

        def load():
            return joblib.load(path)
    else:
        dumped = _dumps_as_version(monkeypatch, pickle.dumps, clf, "0.0.1")

        def load():
            return pickle.loads(dumped)

    with pytest.warns(skmlp.InconsistentVersionWarning) as record:
        load()
    (warning,) = record
    assert warning.filename == __file__
    assert warning.lineno == load.__code__.co_firstlineno + 1


def _with_solver_class(dumped, name):
    """A skops file whose saved solver class is renamed ``name``."""
    with zipfile.ZipFile(io.BytesIO(dumped)) as source:
        files = {info.filename: source.read(info) for info in source.infolist()}
    # The name is a JSON string inside the JSON schema.
    saved = json.dumps(json.dumps("NesterovAcceleratedGradient"))[1:-1]
    schema = files["schema.json"].decode()
    assert schema.count(saved) == 1
    files["schema.json"] = schema.replace(
        saved, json.dumps(json.dumps(name))[1:-1]
    ).encode()
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w") as target:
        for filename, content in files.items():
            target.writestr(filename, content)
    return edited.getvalue()


def test_skops_file_with_an_unknown_solver_class_raises_a_clear_error(data):
    sio = pytest.importorskip("skops.io")
    X, y = data
    edited = _with_solver_class(sio.dumps(_fit(X, y, solver="nag")), "AdamSolver")
    with pytest.raises(ValueError, match="damaged") as excinfo:
        sio.loads(edited, trusted=[ESTIMATOR_CLASS])
    message = str(excinfo.value)
    assert "'AdamSolver'" in message
    assert "GradientDescent, LBFGS, NesterovAcceleratedGradient" in message


def test_pickled_state_with_an_unknown_solver_class_raises_a_clear_error(data):
    X, y = data
    state = _fit(X, y).__getstate__()
    state["_solver"]["class"] = "builtins.eval"
    with pytest.raises(ValueError, match="'builtins.eval'"):
        SoftplusMLPClassifier.__new__(SoftplusMLPClassifier).__setstate__(state)


def test_joblib_round_trip_predicts_identically_and_continues_identically(tmp_path):
    X, y = scaled_iris()
    clf = fit_quietly(classifier(solver="nag", batch_size=50, **no_stop(5)), X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path)
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert_same_model(loaded, clf, rtol=0, atol=0)
    loaded.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert_same_model(loaded, clf, rtol=0, atol=0)
    assert loaded.loss_curve_ == clf.loss_curve_
    assert loaded.n_iter_ == clf.n_iter_ == 6


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_regressor_skops_round_trip_predicts_and_continues_identically(loss):
    # The regressor's file asks to trust its own class only, and the loaded
    # model predicts and goes on training exactly as the saved one.
    sio = pytest.importorskip("skops.io")
    from skmlp import SoftplusMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    y = np.column_stack([np.exp(X[:, 0] / 2), np.exp(X[:, 1] * X[:, 2] / 3)])
    if loss == "poisson":
        y = rng.poisson(y).astype(float)
    reg = SoftplusMLPRegressor(loss=loss, hidden_layer_sizes=(6,), random_state=0)
    for _ in range(3):
        reg.partial_fit(X, y)
    dumped = sio.dumps(reg)
    assert sio.get_untrusted_types(data=dumped) == ["skmlp._mlp.SoftplusMLPRegressor"]
    loaded = sio.loads(dumped, trusted=[SoftplusMLPRegressor])
    assert_array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.out_activation_ == reg.out_activation_
    for _ in range(2):
        reg.partial_fit(X, y)
        loaded.partial_fit(X, y)
    assert_array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.n_iter_ == reg.n_iter_ == 5
