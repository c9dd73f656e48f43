"""The fast evaluation (skmlp._evaluation.blocks): how the rows are cut into blocks
and parts, and the prediction driver against the plain forward pass. The
objective's values in blocks and parts, dense and sparse, with threads and
after set_rows, are tested through Objective in tests/test_objective.py,
and against the plain mathematics in tests/test_network.py."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from skmlp._evaluation.blocks import (
    MAX_PARTS,
    MIN_PART_ROWS,
    MIN_PART_WORK,
    _parts,
    forward_log_proba,
    rows_per_block,
)
from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout
from skmlp._math.network import forward, parameters


@pytest.mark.parametrize("block_size", [None, 7])
@pytest.mark.parametrize("sparse", [False, True])
def test_forward_log_proba_is_the_log_softmax_of_the_plain_forward_pass(
    block_size, sparse
):
    # The class-major layout of a block is transposed back into one row per
    # sample.
    rng = np.random.RandomState(0)
    layout = ParameterLayout((4, 5, 3, 3))
    theta = layout.initialize(rng, np.float64)
    X = rng.normal(size=(50, 4))
    X[np.abs(X) < 0.5] = 0.0
    z, _ = forward(*parameters(layout, theta), X.T)
    logits = z[-1].T
    expected = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    rows = sp.csr_matrix(X) if sparse else X
    coefs, intercepts = layout.unpack(theta)
    log_proba = forward_log_proba(coefs, intercepts, rows, block_size=block_size)
    assert_allclose(log_proba, expected, rtol=1e-13)


@pytest.mark.parametrize("n_samples, block_size", [(1, 512), (50, 7), (100, 3), (9, 9)])
def test_the_parts_are_consecutive_blocks_fixed_by_the_number_of_rows(
    n_samples, block_size
):
    parts = _parts(n_samples, block_size)
    blocks = [block for part in parts for block in part]
    assert 1 <= len(parts) <= MAX_PARTS and all(parts)
    assert blocks[0][0] == 0 and blocks[-1][1] == n_samples
    assert all(stop == start for (_, stop), (start, _) in zip(blocks, blocks[1:]))
    assert all(0 < stop - start <= block_size for start, stop in blocks)
    # As even as they can be: part sizes differ by one block at most.
    sizes = [len(part) for part in parts]
    assert max(sizes) - min(sizes) <= 1


# The multiply-adds per row of a 784 -> 512 -> 10 network, and the least per
# row with which 200 rows make two parts of MIN_PART_WORK each.
WIDE = 784 * 512 + 512 * 10
LEAST = 2 * MIN_PART_WORK // 200


@pytest.mark.parametrize(
    "n_samples, work_per_row, n_parts",
    [
        (200, WIDE, 2),  # MLPClassifier's default batch, a wide network
        (256, WIDE, 2),
        (512, WIDE, 5),  # a block of 512 rows, in parts of 102 or 103
        (2 * MIN_PART_ROWS - 1, WIDE, 1),  # too few rows for two parts
        (8 * MIN_PART_ROWS + 500, 10 * WIDE, 8),  # never more than MAX_PARTS
        (200, LEAST, 2),
        (200, LEAST - 1, 1),  # too little work for two parts
        (200, 50 * 100 + 100 * 5, 1),  # 50 -> 100 -> 5
        (200, 0, 1),  # the prediction driver's default: never cut
        # 201 rows of 39801 multiply-adds are 8000001 in all, but parts of
        # 100 and 101 rows: the shorter one would be below MIN_PART_WORK.
        (201, 39801, 1),
        (202, 39801, 2),
    ],
)
def test_rows_of_one_block_are_cut_into_parts_where_threads_pay(
    n_samples, work_per_row, n_parts
):
    parts = _parts(n_samples, 8192, work_per_row)
    assert len(parts) == n_parts
    blocks = [block for part in parts for block in part]
    assert len(blocks) == n_parts
    assert blocks[0][0] == 0 and blocks[-1][1] == n_samples
    assert all(stop == start for (_, stop), (start, _) in zip(blocks, blocks[1:]))
    sizes = [stop - start for start, stop in blocks]
    assert max(sizes) - min(sizes) <= 1
    if n_parts > 1:
        assert min(sizes) >= MIN_PART_ROWS
        assert min(sizes) * work_per_row >= MIN_PART_WORK


def test_rows_of_several_blocks_are_not_cut_further():
    # 600 rows in blocks of 512 are two blocks, whatever the work per row.
    assert _parts(600, 512, WIDE) == [[(0, 512)], [(512, 600)]]


@pytest.mark.parametrize(
    "layer_sizes, dtype, rows",
    [
        ((100, 256, 3), np.float64, 512),  # 512 rows of 256 units in float64
        ((100, 256, 3), np.float32, 1024),  # as many bytes in float32
        ((784, 512, 10), np.float64, 512),  # never fewer than 512 rows
        ((784, 512, 10), np.float32, 512),
        ((20, 32, 3), np.float64, 4096),  # 512 * 256 * 8 bytes per layer
        ((20, 32, 3), np.float32, 8192),
        ((20, 64, 32, 3), np.float64, 2048),
        ((4, 16, 3), np.float64, 8192),  # never more than 8192 rows
    ],
)
def test_narrow_networks_take_longer_blocks(layer_sizes, dtype, rows):
    assert rows_per_block(layer_sizes, dtype) == rows


@pytest.mark.parametrize("dtype, rows", [(np.float64, 4096), (np.float32, 8192)])
def test_the_default_blocks_are_rows_per_block(dtype, rows):
    # 9000 rows of a narrow network: blocks of 4096 rows by default in
    # float64, 8192 in float32, which add up in another order than blocks
    # of 512.
    rng = np.random.RandomState(0)
    layout = ParameterLayout((20, 32, 3))
    theta = layout.initialize(rng, dtype)
    X, y, w = (
        rng.normal(size=(9000, 20)).astype(dtype),
        rng.randint(3, size=9000),
        np.ones(9000),
    )
    default = Objective(layout, X, y, w, 0.1).value_and_gradient(theta)
    explicit = Objective(layout, X, y, w, 0.1, block_size=rows)
    assert_array_equal(default[1], explicit.value_and_gradient(theta)[1])
    assert default[0] == explicit.value(theta)
    by_512 = Objective(layout, X, y, w, 0.1, block_size=512).value_and_gradient(theta)
    assert_allclose(by_512[1], default[1], rtol=1e-12 if dtype == np.float64 else 1e-4)
    assert not np.array_equal(by_512[1], default[1])


@pytest.mark.parametrize("sparse", [False, True])
def test_inputs_near_the_float64_limit_give_probabilities_or_a_clear_error(sparse):
    # Features near the float64 limit: the log-softmax of finite logits is
    # finite or -inf, whatever their size; logits that overflow raise,
    # where a NaN probability would make predict say class 0 silently.
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    from skmlp import SoftplusMLPClassifier

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)

    def rows(values):
        rows = np.vstack([X[:3], *(np.full((1, 4), value) for value in values)])
        return sp.csr_matrix(rows) if sparse else rows

    with np.errstate(over="raise", invalid="raise"):
        proba = clf.predict_proba(rows([1e307, -1e307]))
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_allclose(proba[:3], clf.predict_proba(X[:3]), rtol=1e-12)
    for predict in (clf.predict, clf.predict_proba, clf.predict_log_proba):
        with pytest.raises(ValueError, match="overflowed .* largest absolute value"):
            predict(rows([1e308]))
