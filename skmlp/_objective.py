"""The training objective as a function of the flat parameter vector.

For rows ``x_i`` with targets ``y_i`` and sample weights ``w_i``::

    L(theta) = sum_i w_i l(f(x_i), y_i) / sum_i w_i + P(theta) / sum_i w_i

where ``f`` is the network, ``l`` the datafit (:mod:`skmlp._datafits`; the
softmax cross-entropy by default) and ``P`` the penalty
(:mod:`skmlp._penalties`; ``alpha / 2 * sum_l ||W_l||^2``). This is
scikit-learn's ``MLPClassifier`` objective, derived in the user guide.

The rows are evaluated in blocks of ``block_size`` rows, in buffers made
once (:class:`_Workspace`), by :func:`forward_backward`, the one function
that holds the forward and backward passes. The blocks are grouped into at
most ``MAX_PARTS`` parts fixed by the number of rows alone; an executor
(:mod:`skmlp._execution`) runs the parts, each adding its blocks' gradients
in block order into one vector, and the objective adds the parts' results
in part order. So the result does not depend on the executor or on its
number of threads.
"""

import collections
import functools
import hashlib
import math

import numpy as np
import scipy.sparse as sp

from ._activations import softplus_inplace
from ._datafits import SoftmaxCrossEntropy
from ._execution import SingleThreadedBlas, ThreadedExecutor
from ._layout import ParameterLayout
from ._penalties import L2

# Rows per block (see rows_per_block): at least 512, enough for the matrix
# products to run at full BLAS speed; for narrow layers more, up to about
# BLOCK_BYTES per layer (512 rows of 256 units in float64), still few enough
# for a block's activations to stay in the CPU cache between the forward and
# the backward pass. Changing them changes results at the rounding level
# (the order of the sums over rows).
MIN_BLOCK_SIZE = 512
MAX_BLOCK_SIZE = 8192
BLOCK_BYTES = 512 * 256 * 8


def rows_per_block(layer_sizes, dtype=np.float64):
    """Rows per block for a network of ``layer_sizes`` in ``dtype``:
    ``BLOCK_BYTES`` over the widest layer's row, within
    ``[MIN_BLOCK_SIZE, MAX_BLOCK_SIZE]``.

    A block costs a few dozen NumPy calls, whose Python holds the GIL: with
    short blocks of a narrow network they weigh as much as the arithmetic,
    and threads wait for each other instead of computing side by side.
    float32 takes twice the rows of float64 in as many bytes, which makes
    the calls' share smaller again (the measurements are in
    docs/performance.md, "How an evaluation runs").
    """
    rows = BLOCK_BYTES // (np.dtype(dtype).itemsize * max(layer_sizes))
    return min(max(rows, MIN_BLOCK_SIZE), MAX_BLOCK_SIZE)


# The rows that a sampled fingerprint reads (Objective.fingerprint).
FINGERPRINT_SAMPLE = 16

# The most parts the blocks are grouped into: the most threads an
# evaluation can use, and the most gradients it can hold at once.
MAX_PARTS = 8


def forward_backward(
    params, block, datafit=None, rows=None, gradient=None, accumulate=False
):
    """The loss of one block of rows and, with ``gradient``, its gradient.

    The user guide's derivation ("The gradient, step by step"), with its
    names: ``a[0] = x``, ``z[l] = W[l-1] a[l-1] + b[l-1]``,
    ``a[l] = softplus(z[l])`` for the hidden layers ``l = 1..H``, the
    output ``z[H+1]``; then ``e = dL/dz[H+1]`` from the datafit, and going
    back ``dL/dW[l] = d[l+1] a[l]^T`` and
    ``d[l] = sigmoid(z[l]) * (W[l]^T d[l+1])`` with ``d[H+1] = e``. The
    code's ``layer`` is the guide's ``l``.

    Two layouts pay for speed, and are why the code looks as it does:

    - **Class-major blocks.** The block is computed transposed, one column
      per row, exactly as the guide writes one row as a column vector
      (``a[l]`` has shape ``(n_l, n_rows)``): every elementwise pass
      (softplus, the softmax, the derivatives) then runs over contiguous
      lines of ``n_rows`` numbers, however narrow the layer.
    - **A row of ones for the intercepts.** ``a[l]`` carries a row of ones
      below it and ``params[l]`` is ``W[l]^T`` stacked over ``b[l]`` (which
      is how they lie in ``theta``, see ``ParameterLayout.blocks``), so one
      product ``params[l]^T a[l]`` is ``W[l] a[l] + b[l]``, and one product
      ``a[l] d^T`` gives the gradients of both. Sparse input has no row of
      ones: its intercepts are added and summed apart.

    Parameters
    ----------
    params : list of ndarray
        ``params[l]`` of shape ``(n_l + 1, n_{l+1})``: ``W[l]^T`` over
        ``b[l]``.
    block : _Block
        The buffers of the block, its input loaded (``_Workspace.load``).
    datafit : datafit, default=None
        None: the forward pass alone; returns ``z[H+1]``.
    rows : _Rows, default=None
        The block's targets, sample weights ``w_i`` and ``w_i / sum(w)``.
    gradient : _PartGradient, default=None
        Receives the block's gradient.
    accumulate : bool, default=False
        Add the block's gradient to what ``gradient`` holds (the blocks
        before it in its part) rather than overwrite it.

    Returns
    -------
    loss : float
        ``sum_i w_i l_i`` over the block (the forward pass alone returns
        ``z[H+1]``).
    """
    a, sigma, H = block.a, block.sigma, len(params) - 1
    for layer in range(H + 1):
        z = block.z_out if layer == H else block.a[layer + 1][:-1]
        if layer == 0 and block.sparse:
            z.T[...] = a[layer] @ params[layer][:-1]
            z += params[layer][-1][:, np.newaxis]
        else:
            np.matmul(params[layer].T, a[layer], out=z)
        if layer < H:
            # In place: z[layer+1] becomes a[layer+1], and the backward
            # pass keeps sigmoid(z[layer+1]), the derivative of softplus.
            derivative = None if gradient is None else sigma[layer + 1]
            softplus_inplace(z, block.scratch[layer + 1], derivative)
    if datafit is None:
        return block.z_out
    e = None if gradient is None else block.error
    loss = datafit.loss(block.z_out, rows.targets, rows.weight, e, block.work)
    if gradient is None:
        return loss
    d = np.multiply(e, rows.gradient_weight, out=e)
    for layer in range(H, -1, -1):
        sparse = layer == 0 and block.sparse
        scratch = block.product if accumulate else None
        gradient.add_outer(layer, a[layer], d, block.ones, sparse, scratch)
        if layer > 0:
            # a[layer] served its last purpose just above: its buffer takes
            # d[layer] (its row of ones is left alone).
            back = a[layer][:-1]
            np.matmul(params[layer][:-1], d, out=back)
            d = np.multiply(back, sigma[layer], out=back)
    return loss


def forward_log_proba(
    coefs,
    intercepts,
    X,
    n_threads=None,
    *,
    datafit=None,
    executor=None,
    block_size=None,
):
    """Log-probabilities of the outputs for the rows of ``X``.

    Block by block, on up to ``n_threads`` threads (by default the BLAS
    thread limit, see :class:`~skmlp._execution.SingleThreadedBlas`);
    ``X`` may be dense or sparse CSR. ``datafit``, ``executor`` and
    ``block_size`` are those of :class:`Objective`.

    Raises
    ------
    ValueError
        If the network's outputs overflow (inputs far outside the range of
        the training data): a NaN would otherwise predict class 0.
    """
    datafit = SoftmaxCrossEntropy() if datafit is None else datafit
    dtype = np.result_type(X.dtype, coefs[0].dtype)
    layout = ParameterLayout((X.shape[1], *(coef.shape[1] for coef in coefs)))
    params = layout.blocks(layout.pack(coefs, intercepts, dtype))
    if block_size is None:
        block_size = rows_per_block(layout.layer_sizes, dtype)
    n_samples = X.shape[0]
    out = np.empty((n_samples, layout.layer_sizes[-1]), dtype)
    workspaces = _Pool(
        functools.partial(
            _Workspace,
            layout.layer_sizes,
            min(block_size, n_samples),
            dtype,
            sp.issparse(X),
        )
    )

    def predict_part(part):
        workspace = workspaces.take()
        for start, stop in part:
            block = workspace.load(X[start:stop])
            # Outputs that overflow are reported below, with advice.
            with np.errstate(over="ignore", invalid="ignore"):
                z = forward_backward(params, block)
                log_proba = datafit.log_proba(z, block.work)
                # A NaN can come only from outputs that overflowed: the
                # log-softmax of finite logits is finite or -inf.
                overflowed = np.isnan(np.sum(log_proba))
            if overflowed:
                _raise_overflow(X[start:stop])
            np.copyto(out[start:stop], log_proba.T)
        workspaces.give(workspace)

    cost = n_samples * _work_per_row(layout.layer_sizes)
    own = executor is None
    if own:
        executor = ThreadedExecutor(n_threads)
    try:
        with SingleThreadedBlas():
            parts = _parts(n_samples, block_size)
            for _ in executor.map(predict_part, parts, cost):
                pass
    finally:
        if own:
            executor.close()
    return out


def output_range(params, low, high):
    """Bounds on the outputs ``z[H+1]`` of every input between ``low`` and
    ``high`` (vectors of ``n_features``): interval arithmetic through the
    layers.

    An input in the box of centre ``c = (high + low) / 2`` and radius
    ``r = (high - low) / 2`` gives ``z = W x + b`` within ``W c + b`` plus or
    minus ``|W| r``; softplus is increasing, so the next layer's inputs lie
    between the softplus of those ends. Computed in float64, which holds
    bounds that the data's own precision would round or overflow.
    """
    low, high = (np.asarray(end, np.float64) for end in (low, high))
    for layer, param in enumerate(params):
        weights, bias = param[:-1].astype(np.float64), param[-1]
        centre, radius = (high + low) / 2, (high - low) / 2
        centre, radius = centre @ weights + bias, radius @ np.abs(weights)
        low, high = centre - radius, centre + radius
        if layer < len(params) - 1:
            low, high = np.logaddexp(0, low), np.logaddexp(0, high)
    return low, high


def feature_range(X):
    """The smallest and the largest value of each column of ``X``."""
    ends = X.min(axis=0), X.max(axis=0)
    return [
        np.ravel(end.toarray() if sp.issparse(end) else np.asarray(end)) for end in ends
    ]


def loss_bound_in_box(layout, theta, datafit, feature_range):
    """The largest loss of any row whose features lie in
    ``feature_range = (low, high)``, whatever its target: the datafit's
    ``loss_bound`` over the :func:`output_range` of that box."""
    return datafit.loss_bound(*output_range(layout.blocks(theta), *feature_range))


class OutputOverflow(ValueError):
    """The network's outputs overflowed for some rows of the input.

    For inputs to predict on, the rows are far outside the range of the
    training data (the message says so); the training loop, which scores
    held-out training rows, reports it as a divergence instead.
    """


def _raise_overflow(X):
    largest = abs(X).max()
    raise OutputOverflow(
        "The network's outputs overflowed (are not finite) for some rows of "
        f"X, whose largest absolute value is {largest:.3g}: X is far outside "
        "the range of the training data. Scale it as the training data was "
        "scaled (for example with the StandardScaler fitted on it)."
    )


class Objective:
    """The training objective of a set of rows, as a function of ``theta``.

    Parameters
    ----------
    layout : ParameterLayout
        The layout of ``theta``.
    X : {ndarray, sparse CSR matrix} of shape (n_samples, n_features)
        Input rows, of the floating dtype in which the objective computes.
    y : ndarray of shape (n_samples,)
        The targets, as the datafit takes them (class indices in
        ``range(n_outputs)`` for the softmax cross-entropy).
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.
    alpha : float
        Strength of the L2 penalty on the weights (not the intercepts).
    n_threads : int, default=None
        The most threads of the default executor; None: the BLAS thread
        limit in force at each evaluation.
    datafit : datafit, default=None
        None: :class:`~skmlp._datafits.SoftmaxCrossEntropy`.
    executor : executor, default=None
        Runs the parts of an evaluation (see :mod:`skmlp._execution`);
        None: a :class:`~skmlp._execution.ThreadedExecutor` of
        ``n_threads``, whose threads end with the objective.
    block_size : int, default=None
        Rows per block; None: :func:`rows_per_block` of the layout.

    Notes
    -----
    The objective keeps its buffers between calls, so one objective must
    not be evaluated by two threads at once. It holds one block's buffers
    per part running at once, and a gradient per part started and not yet
    added up: at most ``MAX_PARTS`` of each, fewer with fewer threads.
    """

    def __init__(
        self,
        layout,
        X,
        y,
        sample_weight,
        alpha,
        n_threads=None,
        *,
        datafit=None,
        executor=None,
        block_size=None,
    ):
        self.layout = layout
        self.datafit = SoftmaxCrossEntropy() if datafit is None else datafit
        self.penalty = L2(layout, alpha)
        self.executor = ThreadedExecutor(n_threads) if executor is None else executor
        if block_size is None:
            dtype = X.dtype if X.dtype.kind == "f" else np.float64
            block_size = rows_per_block(layout.layer_sizes, dtype)
        self.block_size = block_size
        self._workspaces = self._gradients = self._loaded = None
        self.set_rows(X, y, sample_weight)

    def set_rows(self, X, y, sample_weight):
        """Make this the objective of other rows, keeping the buffers.

        What a mini-batch epoch does for every batch. What the blocks need
        of the rows is made here, once: their targets and weights and, when
        the rows are one block of dense input, their transposed copy.
        """
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self._feature_range = self._fingerprint = None
        self.weight_sum = float(sample_weight.sum())
        n_samples = X.shape[0]
        dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float64)
        rows = min(self.block_size, n_samples)
        kind = (dtype, sp.issparse(X))
        if self._workspaces is None or self._kind != kind or self._rows < rows:
            # Buffers for the new rows; those made before are let go. The
            # pools make their items from what the items need alone: a maker
            # that held the objective would make a reference cycle, which
            # keeps the objective, its rows and every buffer alive after the
            # call until the garbage collector runs (tests/test_objective.py
            # and tests/test_mlp.py check that a call leaves nothing).
            sizes = self.layout.layer_sizes
            make_workspace = functools.partial(
                _Workspace, sizes, rows, dtype, sp.issparse(X)
            )
            self._workspaces = _Pool(make_workspace)
            self._gradients = _Pool(
                functools.partial(_PartGradient, self.layout, dtype)
            )
            self._kind, self._rows, self._loaded = kind, rows, None
        gradient_weight = sample_weight / self.weight_sum
        n_outputs = self.layout.layer_sizes[-1]
        self._parts = [
            [
                _Rows(
                    start,
                    stop,
                    self.datafit.block_targets(y[start:stop], n_outputs, dtype),
                    sample_weight[start:stop],
                    gradient_weight[start:stop],
                )
                for start, stop in part
            ]
            for part in _parts(n_samples, self.block_size)
        ]
        self._cost = n_samples * _work_per_row(self.layout.layer_sizes)
        if self._loaded is not None:
            self._workspaces.give(self._loaded_workspace)
        self._loaded = None
        if n_samples <= self.block_size:
            self._loaded_workspace = self._workspaces.take()
            self._loaded = self._loaded_workspace.load(X)

    def __getstate__(self):
        # The rows and the parameters, not the buffers: a copy of a block's
        # views would be arrays of their own, no longer filled by loading
        # the block, and the buffers are made again where they are needed.
        return {
            "layout": self.layout,
            "datafit": self.datafit,
            "penalty": self.penalty,
            "executor": self.executor,
            "block_size": self.block_size,
            "rows": (self.X, self.y, self.sample_weight),
        }

    def __setstate__(self, state):
        rows = state.pop("rows")
        self.__dict__.update(state)
        self._workspaces = self._gradients = self._loaded = None
        self.set_rows(*rows)

    def value(self, theta):
        """The objective at ``theta``."""
        return self._evaluate(theta, with_gradient=False)[0]

    def value_and_gradient(self, theta):
        """The objective at ``theta`` and its gradient, a new flat vector."""
        return self._evaluate(theta, with_gradient=True)

    def fingerprint(self, sampled=False):
        """A digest of all that the objective's values depend on, but the
        executor: the rows (values, dtype, shape, sparse structure), the
        targets and weights, ``alpha``, the datafit, the layout and the
        blocks; with ``sampled``, of all that but the rows, of which only
        ``FINGERPRINT_SAMPLE`` evenly spaced ones.

        Two objectives of equal fingerprints give the same value and
        gradient at every ``theta``, to the bit (the evaluation depends on
        nothing else, see the module's docstring): so a ``partial_fit``
        call on the rows of the last one can keep its last gradient rather
        than take it again (``AdaptiveStep.remeasure``). Different sampled
        fingerprints prove the objectives different; equal ones prove
        nothing. A cryptographic hash (SHA-256), made once per set of rows
        and kind; the full one reads every number once, at 0.3 to 0.7 of a
        gradient's time on narrow networks (docs/performance.md, "The
        fingerprint of a partial_fit call's rows"), the sampled one next to
        nothing. None for rows whose numbers cannot be read as such (an
        array of objects).
        """
        if self._fingerprint is None:
            self._fingerprint = {}
        if sampled not in self._fingerprint:
            try:
                self._fingerprint[sampled] = self._digest(sampled)
            except TypeError:
                return None
        return self._fingerprint[sampled]

    def _digest(self, sampled):
        digest = hashlib.sha256()
        X, y, sample_weight = self.X, self.y, self.sample_weight
        header = (
            sampled,
            type(self.datafit).__name__,
            repr(float(self.penalty.alpha)),
            self.layout.layer_sizes,
            self.block_size,
            X.dtype.str,
            X.shape,
            X.format if sp.issparse(X) else "dense",
        )
        digest.update(repr(header).encode())
        if sampled:
            rows = np.unique(np.linspace(0, X.shape[0] - 1, FINGERPRINT_SAMPLE))
            rows = rows.astype(np.intp)
            X, y, sample_weight = X[rows], y[rows], sample_weight[rows]
        if sp.issparse(X):
            for part in (X.indptr, X.indices, X.data):
                _digest_array(digest, part)
        elif X.flags.c_contiguous:
            _digest_array(digest, X)
        else:
            # A block at a time: a contiguous copy of the whole would be
            # as large as the rows.
            for start in range(0, X.shape[0], self.block_size):
                _digest_array(digest, X[start : start + self.block_size])
        for part in (y, sample_weight):
            _digest_array(digest, part)
        return digest.hexdigest()

    def loss_bound(self, theta):
        """An upper bound on :meth:`value` at ``theta``, without a pass over
        the rows once the range of their features is known.

        Every row lies in the box of the features' ranges, so its loss is at
        most :func:`loss_bound_in_box`, and so is the rows' weighted
        mean; the penalty is added exactly. The bound is loose (tens to
        thousands of times the loss), but far enough below the divergence
        rule's threshold for the training loop to skip the forward pass
        that would check the point that ends a call (docs/performance.md,
        "The check of the last point"). NaN or inf if ``theta`` is not
        finite.
        """
        if self._feature_range is None:
            self._feature_range = feature_range(self.X)
        data = loss_bound_in_box(self.layout, theta, self.datafit, self._feature_range)
        penalty, _ = self.penalty.value_and_gradient(theta, 1 / self.weight_sum)
        return data + penalty

    def _evaluate(self, theta, with_gradient):
        params = self.layout.blocks(theta)

        def evaluate_part(part):
            gradient = self._gradients.take() if with_gradient else None
            if self._loaded is not None:
                block = self._loaded
                loss = forward_backward(params, block, self.datafit, part[0], gradient)
                return loss, gradient
            workspace = self._workspaces.take()
            loss = 0.0
            for k, rows in enumerate(part):
                block = workspace.load(self.X[rows.start : rows.stop])
                loss += forward_backward(
                    params, block, self.datafit, rows, gradient, accumulate=k > 0
                )
            self._workspaces.give(workspace)
            return loss, gradient

        with SingleThreadedBlas():
            penalty, gradient = self.penalty.value_and_gradient(
                theta, 1 / self.weight_sum
            )
            datafit = 0.0
            for loss, part_gradient in self.executor.map(
                evaluate_part, self._parts, self._cost
            ):
                datafit += loss
                if with_gradient:
                    gradient += part_gradient.flat
                    self._gradients.give(part_gradient)
        return datafit / self.weight_sum + penalty, gradient if with_gradient else None


def _digest_array(digest, array):
    """Add the numbers of ``array`` to ``digest``, with their dtype and
    shape: without a copy when they are contiguous (a block's worth, at
    most, otherwise)."""
    array = np.asarray(array)
    if array.dtype.hasobject:
        # The bytes of objects are their addresses, not their values.
        raise TypeError("an array of objects has no fingerprint")
    digest.update(repr((array.dtype.str, array.shape)).encode())
    digest.update(np.ascontiguousarray(array).data)


def _parts(n_samples, block_size):
    """The ``(start, stop)`` of every block of rows, grouped into at most
    ``MAX_PARTS`` parts of consecutive blocks; all fixed by the number of
    rows alone."""
    blocks = [
        (start, min(start + block_size, n_samples))
        for start in range(0, n_samples, block_size)
    ]
    n_parts = min(len(blocks), MAX_PARTS)
    return [
        blocks[k * len(blocks) // n_parts : (k + 1) * len(blocks) // n_parts]
        for k in range(n_parts)
    ]


def _work_per_row(layer_sizes):
    """Multiply-adds per row of a forward pass."""
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


# What a block of rows needs of the objective's rows: where they are, their
# targets as the datafit reads them, w_i and w_i / sum(w).
_Rows = collections.namedtuple("_Rows", "start stop targets weight gradient_weight")


class _Pool:
    """Objects made on demand and reused: a thread takes one and gives it
    back when done, so there are as many as were ever in use at once.
    (``list.pop`` and ``list.append`` are atomic: no lock is needed.)"""

    def __init__(self, make):
        self.new = make
        self._free = []

    def take(self):
        try:
            return self._free.pop()
        except IndexError:
            return self.new()

    def give(self, item):
        self._free.append(item)


class _PartGradient:
    """The gradient of one part: a flat vector laid out as ``theta``, and
    its views ``blocks[l]`` laid out as ``params[l]``."""

    def __init__(self, layout, dtype):
        self.flat = np.empty(layout.n_params, dtype)
        self.blocks = layout.blocks(self.flat)

    def add_outer(self, layer, a, d, ones, sparse, scratch=None):
        """``blocks[layer] = [a; 1] d^T``: the layer's gradient (for
        ``sparse`` input ``a``, without its row of ones); with ``scratch``
        (a ``_Scratch``, ``_Workspace.product``), added to what
        ``blocks[layer]`` holds."""
        out = self.blocks[layer]
        if sparse:
            coef, intercept = a.T @ d.T, d @ ones
            if scratch is not None:
                out[:-1] += coef
                out[-1] += intercept
            else:
                out[:-1] = coef
                out[-1] = intercept
        elif scratch is not None:
            # The product, then the sum: scipy's BLAS gemm would add in place
            # (C = A B + C), but it holds the GIL, which serialised the
            # threads (docs/performance.md, "Controlling the threads").
            product = scratch(out.shape)
            np.matmul(a, d.T, out=product)
            out += product
        else:
            np.matmul(a, d.T, out=out)


class _Workspace:
    """Preallocated buffers for blocks of up to ``rows`` rows.

    Per hidden layer ``l``: ``a[l]`` over its row of ones (``z[l]`` before
    softplus; ``d[l]`` during the backward pass), ``sigmoid(z[l])`` and a
    scratch array; the input ``a[0]`` over its row of ones, for dense
    input; ``z[H+1]``, the error ``e`` (the datafit's scratch array when
    there is no gradient) and one line of scratch. The views of a block
    of ``n`` rows take the first ``(units + 1) * n`` numbers of each
    buffer, so that they are contiguous for every ``n``.
    """

    def __init__(self, layer_sizes, rows, dtype, sparse):
        rows = max(rows, 1)
        n_features, *hidden, n_outputs = layer_sizes
        self._units = [n_features, *hidden]
        self._n_outputs = n_outputs
        self._input = None if sparse else np.empty((n_features + 1) * rows, dtype)
        self._hidden = [np.empty((width + 1) * rows, dtype) for width in hidden]
        self._sigma = [np.empty(width * rows, dtype) for width in hidden]
        self._scratch = np.empty(rows * max(hidden, default=0), dtype)
        self._z_out = np.empty(n_outputs * rows, dtype)
        self._error = np.empty(n_outputs * rows, dtype)
        self._line = np.empty(rows, dtype)
        self._ones = np.ones(rows, dtype)
        self._block = None
        # A block's gradient before it is added into its part's.
        largest = max(m * n + n for m, n in zip(layer_sizes, layer_sizes[1:]))
        self.product = _Scratch(largest, dtype)

    def load(self, X):
        """The block of the rows ``X``, with ``X`` as its input: for dense
        ``X``, copied in transposed, over the row of ones."""
        n_rows = X.shape[0]
        if self._block is None or self._block.n_rows != n_rows:
            self._block = _Block(self, n_rows)
        block = self._block
        if self._input is None:
            block.a[0] = X
        else:
            np.copyto(block.a[0][:-1], X.T)
        return block


class _Scratch:
    """Scratch for one layer's gradient, at most ``size`` numbers, made at
    the first need: the running block's, so that finished parts that wait to
    be added up hold none (docs/performance.md, "Memory").

    An object of its own, which the workspace and its block both hold: a
    block holding its workspace (or a bound method of it) would make a
    reference cycle, which the garbage collector alone frees.
    """

    def __init__(self, size, dtype):
        self._size = size
        self._buffer = np.empty(0, dtype)

    def __call__(self, shape):
        """Scratch of ``shape``, at most the largest layer's gradient."""
        if not self._buffer.size:
            self._buffer = np.empty(self._size, self._buffer.dtype)
        return self._buffer[: math.prod(shape)].reshape(shape)


class _Block:
    """Views of a workspace's buffers for a block of ``n_rows`` rows, each
    of shape ``(units, n_rows)``, named as in :func:`forward_backward`."""

    def __init__(self, workspace, n_rows):
        def view(buffer, height):
            return buffer[: height * n_rows].reshape(height, n_rows)

        self.n_rows = n_rows
        self.sparse = workspace._input is None
        n_features, *hidden = workspace._units
        inputs = workspace._input
        a0 = None if inputs is None else view(inputs, n_features + 1)
        self.a = [a0, *(view(h, w + 1) for h, w in zip(workspace._hidden, hidden))]
        # Views of another length overlap the rows of ones: set them again.
        for layer_input in self.a:
            if layer_input is not None:
                layer_input[-1] = 1
        self.sigma = [None, *(view(s, w) for s, w in zip(workspace._sigma, hidden))]
        self.scratch = [None, *(view(workspace._scratch, w) for w in hidden)]
        self.z_out = view(workspace._z_out, workspace._n_outputs)
        self.error = view(workspace._error, workspace._n_outputs)
        self.work = (self.error, workspace._line[:n_rows])
        self.ones = workspace._ones[:n_rows]
        self.product = workspace.product
