"""Bounds over a box of inputs (skmlp._math.bounds): the features' ranges, the
outputs' range by interval arithmetic through the layers. The bound on the
loss that the objective makes of them is tested in tests/test_objective.py."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from skmlp._math.bounds import feature_range, output_range
from skmlp._math.layout import ParameterLayout

N_FEATURES = 4
N_CLASSES = 3


def _outputs(coefs, intercepts, X):
    """The network's outputs ``z[H+1]``, written out layer by layer."""
    a = X
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        a = a @ W + b if layer == len(coefs) - 1 else np.logaddexp(0.0, a @ W + b)
    return a


@pytest.mark.parametrize("hidden", [(), (5,), (6, 4)])
def test_output_range_holds_the_outputs_of_every_input_in_the_box(hidden):
    # Corners and random points of a box of inputs all give outputs in the
    # range (to rounding); with no hidden layer the range is exact, reached
    # at corners.
    rng = np.random.RandomState(0)
    layout = ParameterLayout((N_FEATURES, *hidden, N_CLASSES))
    theta = layout.initialize(rng, np.float64) * 3
    coefs, intercepts = layout.unpack(theta)
    low = rng.normal(size=N_FEATURES)
    high = low + rng.exponential(size=N_FEATURES)
    corners = np.array(np.meshgrid(*zip(low, high))).reshape(N_FEATURES, -1).T
    inside = low + (high - low) * rng.uniform(size=(500, N_FEATURES))
    z = _outputs(coefs, intercepts, np.vstack([corners, inside]))
    z_low, z_high = output_range(layout.blocks(theta), low, high)
    rounding = 1e-13 * np.abs(z).max()
    assert np.all(z_low <= z.min(axis=0) + rounding)
    assert np.all(z.max(axis=0) <= z_high + rounding)
    if not hidden:
        assert_allclose(z.min(axis=0), z_low, rtol=1e-14)
        assert_allclose(z.max(axis=0), z_high, rtol=1e-14)


@pytest.mark.parametrize("sparse", [False, True])
def test_feature_range_is_the_columns_smallest_and_largest_values(sparse):
    # Zeros count, also those a sparse matrix does not store.
    X = np.array([[1.0, -2.0, 0.0], [3.0, 0.0, 5.0], [2.0, -1.0, 4.0]])
    low, high = feature_range(sp.csr_matrix(X) if sparse else X)
    assert_array_equal(low, [1.0, -2.0, 0.0])
    assert_array_equal(high, [3.0, 0.0, 5.0])
    assert low.shape == high.shape == (3,)
