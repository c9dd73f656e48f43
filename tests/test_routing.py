"""sample_weight through Pipeline and GridSearchCV with metadata routing."""

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier

# The short fits here stop at max_iter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

LR = 0.3


@pytest.fixture(autouse=True)
def metadata_routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=150, n_features=5, n_informative=4, n_redundant=0,
        n_classes=3, random_state=0,
    )  # fmt: skip
    # Weights that matter: one class counts ten times more than the others.
    weight = np.where(y == 0, 10.0, 1.0)
    return X, y, weight


def _clf(**params):
    params = {
        "hidden_layer_sizes": (6,),
        "learning_rate_init": LR,
        "max_iter": 30,
        "random_state": 0,
        **params,
    }
    return SoftplusMLPClassifier(**params)


def _assert_same_model(clf, expected):
    for coef, expected_coef in zip(clf.coefs_, expected.coefs_):
        assert_array_equal(coef, expected_coef)


def test_pipeline_routes_sample_weight_to_the_classifier(data):
    X, y, weight = data
    pipeline = make_pipeline(
        StandardScaler().set_fit_request(sample_weight=False),
        _clf().set_fit_request(sample_weight=True),
    ).fit(X, y, sample_weight=weight)

    X_scaled = StandardScaler().fit_transform(X)
    expected = _clf().fit(X_scaled, y, sample_weight=weight)
    _assert_same_model(pipeline[-1], expected)
    # ... and the weights changed the model.
    unweighted = _clf().fit(X_scaled, y)
    assert not np.allclose(expected.coefs_[0], unweighted.coefs_[0])


def test_sample_weight_that_no_step_requests_is_an_error(data):
    X, y, weight = data
    pipeline = make_pipeline(
        StandardScaler().set_fit_request(sample_weight=False),
        _clf().set_fit_request(sample_weight=False),
    )
    with pytest.raises(TypeError, match="not routed to any object"):
        pipeline.fit(X, y, sample_weight=weight)


def test_sample_weight_with_no_request_set_raises(data):
    X, y, weight = data
    pipeline = make_pipeline(
        StandardScaler().set_fit_request(sample_weight=False), _clf()
    )
    with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
        pipeline.fit(X, y, sample_weight=weight)


def test_partial_fit_request_is_available(data):
    X, y, weight = data
    clf = _clf().set_partial_fit_request(sample_weight=True)
    assert clf.get_metadata_routing().consumes("partial_fit", ["sample_weight"]) == {
        "sample_weight"
    }


def test_grid_search_routes_sample_weight_to_fit_and_score(data):
    X, y, weight = data
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    grid = {"learning_rate_init": [0.05, 0.3], "solver": ["gd", "nag"]}
    classifier = _clf().set_fit_request(sample_weight=True)
    classifier.set_score_request(sample_weight=True)
    search = GridSearchCV(classifier, grid, cv=cv).fit(X, y, sample_weight=weight)

    # The same search by hand: fit and score each fold with its weights.
    for index, params in enumerate(search.cv_results_["params"]):
        for fold, (train, test) in enumerate(cv.split(X, y)):
            clf = _clf(**params).fit(X[train], y[train], sample_weight=weight[train])
            expected = clf.score(X[test], y[test], sample_weight=weight[test])
            score = search.cv_results_[f"split{fold}_test_score"][index]
            assert_allclose(score, expected)
    refit = _clf(**search.best_params_).fit(X, y, sample_weight=weight)
    _assert_same_model(search.best_estimator_, refit)
