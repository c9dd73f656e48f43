"""Fingerprints of an objective's rows (skmlp._evaluation.fingerprint, through
Objective.fingerprint): equal for the same rows, different for anything
that the objective's values depend on."""

import numpy as np
import scipy.sparse as sp

from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout

N_FEATURES = 4
N_CLASSES = 3


def _problem(hidden, n_samples):
    rng = np.random.RandomState(0)
    layout = ParameterLayout((N_FEATURES, *hidden, N_CLASSES))
    theta = layout.initialize(rng, np.float64)
    X = rng.normal(size=(n_samples, N_FEATURES))
    y = np.arange(n_samples) % N_CLASSES
    sample_weight = rng.uniform(0.2, 3.0, size=n_samples)
    return layout, Objective(layout, X, y, sample_weight, 0.3), theta


def test_the_fingerprint_tells_objectives_apart_by_what_their_values_depend_on():
    layout, objective, theta = _problem((5,), n_samples=50)
    X, y, w = objective.X, objective.y, objective.sample_weight
    for sampled in (False, True):
        same = Objective(layout, X.copy(), y.copy(), w.copy(), 0.3)
        assert same.fingerprint(sampled) == objective.fingerprint(sampled)
        assert same.fingerprint(sampled) != same.fingerprint(not sampled)
    # Objectives of equal fingerprints give the same bits.
    assert same.value_and_gradient(theta)[0] == objective.value_and_gradient(theta)[0]
    nudged = X.copy()
    nudged[4, 1] = np.nextafter(nudged[4, 1], np.inf)  # row 4 is not sampled
    others = [
        Objective(layout, nudged, y, w, 0.3),
        Objective(layout, X, (y + 1) % N_CLASSES, w, 0.3),
        Objective(layout, X, y, w * 2, 0.3),
        Objective(layout, X, y, w, 0.4),
        Objective(layout, X, y, w, 0.3, block_size=7),
        Objective(layout, X[:49], y[:49], w[:49], 0.3),
        Objective(layout, sp.csr_matrix(X), y, w, 0.3),
        Objective(layout, X.astype(np.float32), y, w.astype(np.float32), 0.3),
    ]
    fingerprints = {other.fingerprint() for other in others}
    assert objective.fingerprint() not in fingerprints
    assert len(fingerprints) == len(others)
    # The sampled one reads 16 rows, of which row 4 is not one.
    assert others[0].fingerprint(sampled=True) == objective.fingerprint(sampled=True)
    # set_rows makes it again.
    objective.set_rows(nudged, y, w)
    assert objective.fingerprint() == others[0].fingerprint()
    # A Fortran-ordered copy of the rows is the same rows.
    assert Objective(layout, np.asfortranarray(X), y, w, 0.3).fingerprint() == (
        same.fingerprint()
    )


def test_rows_of_objects_have_no_fingerprint():
    # The bytes of objects are their addresses, not their values.
    layout, objective, _ = _problem((5,), n_samples=20)
    weight = objective.sample_weight.astype(object)
    objective.set_rows(objective.X, objective.y, weight)
    assert objective.fingerprint() is None
