"""The layout of the flat parameter vector: sizes, views, packing, initialization."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skmlp._math.layout import ParameterLayout


def test_number_of_parameters_is_131_for_4_16_3():
    assert ParameterLayout((4, 16, 3)).n_params == 131
    assert 16 * 4 + 16 + 3 * 16 + 3 == 131


@pytest.mark.parametrize(
    "hidden, expected",
    [
        ((), (4 + 1) * 3),
        ((7, 5, 3), (4 + 1) * 7 + (7 + 1) * 5 + (5 + 1) * 3 + (3 + 1) * 3),
    ],
)
def test_number_of_parameters_is_sum_of_fan_in_plus_one_times_fan_out(hidden, expected):
    layout = ParameterLayout((4, *hidden, 3))
    assert layout.n_params == expected
    assert layout.n_layers == len(hidden) + 1
    rng = np.random.RandomState(0)
    assert layout.initialize(rng, np.float64).shape == (expected,)


def test_pack_then_unpack_round_trips_shapes_values_and_dtype():
    layout = ParameterLayout((4, 7, 5, 3))
    rng = np.random.RandomState(0)
    coefs = [rng.normal(size=s) for s in [(4, 7), (7, 5), (5, 3)]]
    intercepts = [rng.normal(size=n) for n in (7, 5, 3)]
    theta = layout.pack(coefs, intercepts, np.float32)
    assert theta.dtype == np.float32
    assert theta.shape == (layout.n_params,)
    coefs_back, intercepts_back = layout.unpack(theta)
    for a, b in zip(coefs + intercepts, coefs_back + intercepts_back):
        assert a.shape == b.shape
        assert b.dtype == np.float32
        assert_array_equal(b, a.astype(np.float32))
    # Row-major layout: coefs[0] first, then intercepts[0], then layer 1 ...
    assert_array_equal(theta[:28], coefs[0].ravel().astype(np.float32))
    assert_array_equal(theta[28:35], intercepts[0].astype(np.float32))
    assert_array_equal(layout.pack(coefs_back, intercepts_back, np.float32), theta)


def test_pack_rejects_layers_of_the_wrong_shape():
    layout = ParameterLayout((4, 7, 3))
    with pytest.raises(ValueError, match="does not fit the network"):
        layout.pack(
            [np.zeros((4, 6)), np.zeros((6, 3))], [np.zeros(6), np.zeros(3)], float
        )
    # The intercepts are named where they are what is wrong (the layer's
    # right matrix was).
    with pytest.raises(
        ValueError,
        match=r"Intercepts of shape \(2,\) do not fit the layer of shape \(4, 7\)",
    ):
        layout.pack(
            [np.zeros((4, 7)), np.zeros((7, 3))], [np.zeros(2), np.zeros(3)], float
        )


def test_unpack_gives_views_that_write_through_to_theta():
    layout = ParameterLayout((4, 7, 3))
    theta = np.arange(layout.n_params, dtype=np.float64)
    coefs, intercepts = layout.unpack(theta)
    for part in coefs + intercepts:
        assert np.shares_memory(part, theta)
    coefs[1][2, 1] = -1.0
    intercepts[0][3] = -2.0
    assert theta[4 * 7 + 7 + 2 * 3 + 1] == -1.0
    assert theta[4 * 7 + 3] == -2.0
    theta[-1] = -3.0
    assert intercepts[-1][-1] == -3.0


def test_initialize_is_glorot_uniform_and_reproducible():
    layout = ParameterLayout((4, 16, 3))
    theta = layout.initialize(np.random.RandomState(0), np.float64)
    assert_array_equal(theta, layout.initialize(np.random.RandomState(0), np.float64))
    coefs, intercepts = layout.unpack(theta)
    assert np.abs(np.concatenate([coefs[0].ravel(), intercepts[0]])).max() <= np.sqrt(
        6 / 20
    )
    assert np.abs(np.concatenate([coefs[1].ravel(), intercepts[1]])).max() <= np.sqrt(
        6 / 19
    )
    assert layout.initialize(np.random.RandomState(0), np.float32).dtype == np.float32


@pytest.mark.parametrize("hidden_before, hidden_after", [((), (3,)), ((3,), ())])
def test_pack_rejects_another_number_of_layers(hidden_before, hidden_after):
    # The layers of a network with another number of hidden layers: zipping
    # them with this one's would leave a layer uninitialised or drop one.
    before = ParameterLayout((4, *hidden_before, 3))
    coefs, intercepts = before.unpack(
        before.initialize(np.random.RandomState(0), float)
    )
    after = ParameterLayout((4, *hidden_after, 3))
    n_before, n_after = len(hidden_before) + 1, len(hidden_after) + 1
    message = (
        f"number of layers differs: {n_before} weight matrices and {n_before} "
        f"intercept vectors for the network .* which has {n_after} of each"
    )
    with pytest.raises(ValueError, match=message):
        after.pack(coefs, intercepts, np.float64)
