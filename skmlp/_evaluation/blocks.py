"""The fast evaluation of the network's mathematics over many rows.

:mod:`skmlp._math.network` states the mathematics once, on plain arrays; this
module computes the same numbers at speed, and is all the machinery: the
rows in blocks of ``block_size`` (:func:`rows_per_block`), each computed in
buffers made once (:class:`_Workspace`, :class:`_Block`); the blocks
grouped into at most ``MAX_PARTS`` parts fixed by the number of rows alone,
which an executor (:mod:`skmlp._evaluation.execution`) runs, each part adding its
blocks' gradients in block order into one vector (:class:`_PartGradient`),
and the parts added in part order. So the result does not depend on the
executor or on its number of threads. :class:`BlockRows` is the training
objective's source of rows in memory; :func:`forward_log_proba` the
prediction driver.

Where the speed touches the mathematics, it is in three tricks, stated here
once (the figures are in docs/performance.md, "How an evaluation runs"):

- **Class-major blocks.** A block is computed with one column per row, as
  the guide writes one row as a column vector (``a[l]`` has shape
  ``(n_l, n_rows)``): every elementwise pass (softplus, the softmax, the
  derivatives) then runs over contiguous lines of ``n_rows`` numbers,
  however narrow the layer.
- **A row of ones for the intercepts.** ``a[l]`` carries a row of ones
  below it and ``params[l]`` is ``W_l^T`` stacked over ``b_l`` (which is how
  they lie in ``theta``, see ``ParameterLayout.blocks``), so one product
  ``params[l]^T a[l]`` is ``W_l a_l + b_l``, and one product ``a[l] d^T``
  gives the gradients of both. Sparse input has no row of ones: its
  intercepts are added and summed apart.
- **In place.** ``z_l`` is computed into ``a_l``'s buffer and becomes
  ``a_l`` there, ``sigma(z_l)`` kept beside it for the backward pass; going
  back, ``d_l`` takes the buffer of ``a_l`` once ``a_l`` has served the
  gradient of ``W_l``; the output error is written where the datafit
  computes the probabilities.

The passes call the mathematics' own pieces: ``softplus_inplace`` (which
:func:`~skmlp._math.network.forward` calls on a copy) and the datafit's ``loss``
(which :func:`~skmlp._math.network.datafit_sum` calls), so the plain functions
and the fast ones share their arithmetic; tests/test_network.py checks that
they agree.
"""

import collections
import functools
import math

import numpy as np
import scipy.sparse as sp

from .._math.activations import softplus_inplace
from .._math.bounds import feature_range
from .._math.datafits import SoftmaxCrossEntropy
from .._math.layout import ParameterLayout
from .execution import MIN_THREADED_WORK, SingleThreadedBlas, ThreadedExecutor

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


# The most parts the blocks are grouped into: the most threads an
# evaluation can use, and the most gradients it can hold at once.
MAX_PARTS = 8

# The most cuts of rows (blocks and parts, by number of rows) that a source
# of rows keeps from one set of rows to the next.
MAX_CUTS = 8

# Rows that fit in one block (a mini-batch, a small data set) are cut into
# blocks of at least MIN_PART_ROWS rows, each a part of its own, where every
# part then has at least MIN_PART_WORK multiply-adds in its forward pass:
# that is what lets a mini-batch step use more than one core. Each part
# costs a gradient of its own, added up after, and thinner products run
# slower in BLAS: a batch of 256 rows of a 784 -> 512 -> 10 network in
# parts of 32 or 64 rows took longer on two threads than in parts of 128;
# 100 lets MLPClassifier's default batch of 200 rows be cut in two.
# MIN_PART_WORK is half the executor's threshold, so that rows cut into
# parts always run on threads where threads are allowed; below it the
# hand-over to the threads costs about as much as it saves. (The
# measurements are in docs/performance.md, "Mini-batches on every core".)
# Like the blocks, the cut depends on the number of rows and the layer
# sizes alone, never on the threads; changing it changes results at the
# rounding level.
MIN_PART_ROWS = 100
MIN_PART_WORK = MIN_THREADED_WORK // 2


def forward_pass(params, block):
    """The forward pass of a block (:func:`skmlp._math.network.forward`), in its
    buffers: ``a_0 = x`` (loaded by ``_Workspace.load``),
    ``z_l = W_{l-1} a_{l-1} + b_{l-1}``, ``a_l = softplus(z_l)``, and
    ``sigma(z_l)`` for the backward pass (softplus computes it on the way).
    Returns the outputs ``z_{H+1}`` (the block's buffer)."""
    a, H = block.a, len(params) - 1
    for l in range(1, H + 2):  # noqa: E741 (the guide's l)
        # z_l goes into a_l's buffer, over its row of ones.
        z = block.z_out if l == H + 1 else a[l][:-1]
        # z_l = W_{l-1} a_{l-1} + b_{l-1}: params[l - 1] is W_{l-1}^T over
        # b_{l-1}, a[l - 1] is a_{l-1} over a row of ones (but sparse x).
        if l == 1 and block.sparse:
            z.T[...] = a[0] @ params[0][:-1]
            z += params[0][-1][:, np.newaxis]
        else:
            np.matmul(params[l - 1].T, a[l - 1], out=z)
        if l <= H:
            # a_l = softplus(z_l), in place; sigma(z_l) beside it.
            softplus_inplace(z, block.scratch[l], block.sigma[l])
    return block.z_out


def backward_pass(params, block, d, gradient, accumulate):
    """The backward pass of a block (:func:`skmlp._math.network.backward`) from
    its weighted output error ``d = d_{H+1}``, after ``forward_pass``:
    ``dW_{l-1} = d_l a_{l-1}^T`` and ``db_{l-1} = d_l`` into ``gradient``
    (a ``_PartGradient``; with ``accumulate``, added to what it holds, the
    blocks before in its part), and
    ``d_{l-1} = sigma(z_{l-1}) * (W_{l-1}^T d_l)``."""
    a, sigma, H = block.a, block.sigma, len(params) - 1
    scratch = block.product if accumulate else None
    for l in range(H + 1, 0, -1):  # noqa: E741 (the guide's l)
        # dW_{l-1} = d_l a_{l-1}^T and db_{l-1} = d_l, in one product.
        sparse = l == 1 and block.sparse
        gradient.add_outer(l - 1, a[l - 1], d, block.ones, sparse, scratch)
        if l > 1:
            # d_{l-1} = sigma(z_{l-1}) * (W_{l-1}^T d_l), params[l - 1][:-1]
            # being W_{l-1}^T. a_{l-1} served its last purpose just above:
            # its buffer takes d_{l-1} (its row of ones is left alone).
            back = a[l - 1][:-1]
            np.matmul(params[l - 1][:-1], d, out=back)
            d = np.multiply(back, sigma[l - 1], out=back)


def block_sum(params, block, datafit, rows, gradient=None, accumulate=False):
    """``sum_i w_i l_i`` over a block of rows and, with ``gradient``, the
    gradient of ``sum_i (w_i / sum w) l_i`` into it (see
    :func:`backward_pass` for ``accumulate``): the forward pass, the
    datafit and its output error, the backward pass.

    ``block`` holds the rows' input (``_Workspace.load``), ``rows`` their
    targets and weights (a ``_Rows``).
    """
    z_out = forward_pass(params, block)
    error = None if gradient is None else block.error
    loss = datafit.loss(z_out, rows.targets, rows.weight, error, block.work)
    if gradient is not None:
        # d_{H+1}: the datafit's error weighted by w_i / sum w, in place.
        d = np.multiply(error, rows.gradient_weight, out=error)
        backward_pass(params, block, d, gradient, accumulate)
    return loss


class BlockRows:
    """The rows of an objective held in memory, as a source of datafit sums:
    in blocks and parts, their buffers kept from one call to the next.

    The parameters are those of :class:`~skmlp._evaluation.objective.Objective`, the
    ``datafit`` and the ``executor`` given. One source must not be evaluated
    by two threads at once; it holds one block's buffers per part running
    at once, and a gradient per part started and not yet added up: at most
    ``MAX_PARTS`` of each, fewer with fewer threads.
    """

    def __init__(self, layout, X, y, sample_weight, datafit, executor, block_size):
        self.layout = layout
        self.datafit = datafit
        self.executor = executor
        if block_size is None:
            dtype = X.dtype if X.dtype.kind == "f" else np.float64
            block_size = rows_per_block(layout.layer_sizes, dtype)
        self.block_size = block_size
        self._work_per_row = _work_per_row(layout.layer_sizes)
        # The cut of the rows into blocks and parts, and the rows of its
        # longest block, by number of rows: a mini-batch epoch sets rows of
        # two sizes (its batches and the last one) hundreds of times.
        self._cuts = {}
        self._workspaces = self._gradients = self._loaded = None
        self.set_rows(X, y, sample_weight)

    def set_rows(self, X, y, sample_weight):
        """Hold other rows, keeping the buffers.

        What a mini-batch epoch does for every batch (through
        ``Objective.set_rows``). What the blocks need
        of the rows is made here, once: their targets and weights and, when
        the rows are one block of dense input, their transposed copy.
        """
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self._feature_range = None
        self.weight_sum = float(sample_weight.sum())
        n_samples = X.shape[0]
        dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float64)
        cut = self._cuts.get(n_samples)
        if cut is None:
            if len(self._cuts) == MAX_CUTS:
                self._cuts.clear()
            parts = _parts(n_samples, self.block_size, self._work_per_row)
            rows = max(stop - start for part in parts for start, stop in part)
            cut = self._cuts[n_samples] = parts, rows
        parts, rows = cut
        kind = (dtype, sp.issparse(X))
        if self._workspaces is None or self._kind != kind or self._rows < rows:
            # Buffers for the new rows; those made before are let go. The
            # pools make their items from what the items need alone: a maker
            # that held the source would make a reference cycle, which
            # keeps the source, its rows and every buffer alive after the
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
            for part in parts
        ]
        self._cost = n_samples * self._work_per_row
        if self._loaded is not None:
            self._workspaces.give(self._loaded_workspace)
        self._loaded = None
        if len(parts) == 1 and len(parts[0]) == 1:
            self._loaded_workspace = self._workspaces.take()
            self._loaded = self._loaded_workspace.load(X)

    def feature_range(self):
        """The smallest and the largest value of each feature over the rows
        (computed at the first call for a set of rows)."""
        if self._feature_range is None:
            self._feature_range = feature_range(self.X)
        return self._feature_range

    def datafit_sum(self, theta, gradient=None):
        """``sum_i w_i l_i`` over the rows at ``theta``; with ``gradient``,
        adds the gradient of ``sum_i (w_i / sum w) l_i`` into it, part by
        part in part order. To be called with BLAS on one thread
        (:class:`~skmlp._evaluation.execution.SingleThreadedBlas`)."""
        params = self.layout.blocks(theta)
        with_gradient = gradient is not None

        def evaluate_part(part):
            part_gradient = self._gradients.take() if with_gradient else None
            if self._loaded is not None:
                block = self._loaded
                loss = block_sum(params, block, self.datafit, part[0], part_gradient)
                return loss, part_gradient
            workspace = self._workspaces.take()
            loss = 0.0
            for k, rows in enumerate(part):
                block = workspace.load(self.X[rows.start : rows.stop])
                loss += block_sum(
                    params, block, self.datafit, rows, part_gradient, k > 0
                )
            self._workspaces.give(workspace)
            return loss, part_gradient

        total = 0.0
        for loss, part_gradient in self.executor.map(
            evaluate_part, self._parts, self._cost
        ):
            total += loss
            if with_gradient:
                gradient += part_gradient.flat
                self._gradients.give(part_gradient)
        return total


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
    thread limit, see :class:`~skmlp._evaluation.execution.SingleThreadedBlas`);
    ``X`` may be dense or sparse CSR. ``datafit``, ``executor`` and
    ``block_size`` are those of :class:`~skmlp._evaluation.objective.Objective`.

    Raises
    ------
    ValueError
        If the network's outputs overflow (inputs far outside the range of
        the training data), as ``datafit.overflowed`` tells: a NaN would
        otherwise predict class 0, and a regressor would predict ``inf``.
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
                z = forward_pass(params, block)
                log_proba = datafit.log_proba(z, block.work)
                overflowed = datafit.overflowed(log_proba)
            if overflowed:
                _raise_overflow(X[start:stop])
            np.copyto(out[start:stop], log_proba.T)
        workspaces.give(workspace)

    cost = n_samples * _work_per_row(layout.layer_sizes)
    own = executor is None
    if own:
        executor = ThreadedExecutor(n_threads)
    try:
        # A prediction's context: it does not keep the main thread, when its
        # call ends, from setting the limits back.
        with SingleThreadedBlas(holds=False):
            parts = _parts(n_samples, block_size)
            for _ in executor.map(predict_part, parts, cost):
                pass
    finally:
        if own:
            executor.close()
    return out


class OutputOverflow(ValueError):
    """The network's outputs overflowed for some rows of the input.

    For inputs to predict on, the rows are far outside the range of the
    training data (the message says so); the training loop, which scores
    held-out training rows, reports it as a divergence instead.
    """


def _raise_overflow(X):
    values = X.data if sp.issparse(X) else X
    if not np.isfinite(values).all():
        # Only with scikit-learn's finiteness checks turned off: the values
        # themselves, not their range, made the outputs NaN.
        raise OutputOverflow(
            "The network's outputs are not finite for some rows of X, which "
            "contains NaN or infinity: the check of its values was skipped "
            "(scikit-learn's assume_finite=True). Impute or drop them first "
            "(for example with SimpleImputer)."
        )
    largest = abs(X).max()
    raise OutputOverflow(
        "The network's outputs overflowed (are not finite) for some rows of "
        f"X, whose largest absolute value is {largest:.3g}: X is far outside "
        "the range of the training data. Scale it as the training data was "
        "scaled (for example with the StandardScaler fitted on it)."
    )


def _parts(n_samples, block_size, work_per_row=0):
    """The ``(start, stop)`` of every block of rows, grouped into at most
    ``MAX_PARTS`` parts of consecutive blocks; all fixed by the number of
    rows and ``work_per_row`` (:func:`_work_per_row`) alone.

    Rows that fit in one block are cut into up to ``MAX_PARTS`` blocks of
    one part each, as even as they can be, of at least ``MIN_PART_ROWS``
    rows and ``MIN_PART_WORK`` multiply-adds each (with the default
    ``work_per_row`` of 0, never: the prediction driver keeps one block).
    """
    if n_samples <= block_size and work_per_row > 0:
        # The shortest of k parts as even as they can be has n_samples // k
        # rows, which is at least m rows exactly when k <= n_samples // m.
        least_rows = max(MIN_PART_ROWS, -(-MIN_PART_WORK // work_per_row))
        n_parts = min(MAX_PARTS, n_samples // least_rows)
        if n_parts > 1:
            return [
                [(k * n_samples // n_parts, (k + 1) * n_samples // n_parts)]
                for k in range(n_parts)
            ]
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
    of shape ``(units, n_rows)``, named as in :func:`forward_pass` and
    :func:`backward_pass`."""

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
