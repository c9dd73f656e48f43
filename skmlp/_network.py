"""The network's mathematics on one flat parameter vector.

A ``Network`` knows the layer sizes and where each weight matrix and intercept
vector lives inside a flat vector ``theta``; ``Objective`` is the training
objective of one set of rows as a function of ``theta``. Solvers see only the
flat vector and the objective, never layers.

The objective is scikit-learn's ``MLPClassifier`` one, with sample weights::

    L(theta) = sum_i w_i CE_i / sum_i w_i + alpha / (2 sum_i w_i) * sum_l ||W_l||_F^2

Rows are processed in chunks of ``CHUNK_SIZE`` rows, in preallocated buffers,
so that no buffer grows with the number of samples and a chunk's activations
stay in cache. The chunks may be processed by several threads (see
``_for_each_chunk``), each with single-threaded BLAS (``SingleThreadedBlas``);
their boundaries and the order in which their partial sums are added up
depend on nothing but the data, so results do not depend on the number of
threads.
"""

import threading

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from ._activations import log_softmax_inplace, softplus_inplace

# Rows per chunk: small enough for a chunk's activations to stay in cache,
# large enough for the matrix products to run at full BLAS speed. Changing it
# changes results at the rounding level (the order of the sums over rows).
CHUNK_SIZE = 512


class Network:
    """Layer sizes and the layout of the flat parameter vector.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.

    Notes
    -----
    Layer ``l`` stores ``coefs[l]`` of shape ``(fan_in, fan_out)`` row-major,
    followed by ``intercepts[l]`` of shape ``(fan_out,)``. The number of
    parameters is ``sum_l (fan_in_l + 1) * fan_out_l``: 131 for 4 -> 16 -> 3.
    """

    def __init__(self, layer_sizes):
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        self._slices = []
        offset = 0
        for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            coef = slice(offset, offset + fan_in * fan_out)
            offset = coef.stop
            intercept = slice(offset, offset + fan_out)
            offset = intercept.stop
            self._slices.append((coef, intercept, (fan_in, fan_out)))
        self.n_params = offset

    @property
    def n_layers(self):
        """Number of weight layers (hidden layers + 1)."""
        return len(self._slices)

    def unpack(self, theta):
        """Views of ``theta`` as lists ``coefs`` and ``intercepts``."""
        coefs = [theta[c].reshape(shape) for c, _, shape in self._slices]
        intercepts = [theta[b] for _, b, _ in self._slices]
        return coefs, intercepts

    def first_layer(self, theta):
        """View of ``theta`` as the first layer's coefficients stacked over
        its intercepts, of shape ``(n_features + 1, fan_out)``.

        The layout stores them one after the other, so that appending a
        column of ones to the input rows gives the first layer's
        pre-activations, intercepts included, in one matrix product.
        """
        coef, intercept, (fan_in, fan_out) = self._slices[0]
        return theta[coef.start : intercept.stop].reshape(fan_in + 1, fan_out)

    def pack(self, coefs, intercepts, dtype):
        """A new flat vector holding copies of ``coefs`` and ``intercepts``."""
        theta = np.empty(self.n_params, dtype=dtype)
        for (c, b, shape), coef, intercept in zip(self._slices, coefs, intercepts):
            if coef.shape != shape or intercept.shape != shape[1:]:
                raise ValueError(
                    f"Layer of shape {coef.shape} does not fit the network "
                    f"{self.layer_sizes}."
                )
            theta[c] = coef.ravel()
            theta[b] = intercept
        return theta

    def initialize(self, random_state, dtype):
        """Glorot-uniform initial parameters, as MLPClassifier's for tanh/relu.

        Weights and intercepts of layer ``l`` are drawn uniformly from
        ``[-b, b]`` with ``b = sqrt(6 / (fan_in + fan_out))``.
        """
        theta = np.empty(self.n_params, dtype=dtype)
        for c, b, (fan_in, fan_out) in self._slices:
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            theta[c] = random_state.uniform(-bound, bound, fan_in * fan_out)
            theta[b] = random_state.uniform(-bound, bound, fan_out)
        return theta


def forward_log_proba(coefs, intercepts, X, n_threads=None):
    """Log-probabilities of the classes for the rows of ``X``.

    Works chunk by chunk, on up to ``n_threads`` threads (by default the
    BLAS thread limit in force, see :class:`SingleThreadedBlas`); ``X`` may
    be dense or sparse CSR.
    """
    n_samples = X.shape[0]
    dtype = np.result_type(X.dtype, coefs[0].dtype)
    layer_sizes = (X.shape[1], *(coef.shape[1] for coef in coefs))
    layers = _Layers(coefs, intercepts, np.vstack([coefs[0], intercepts[0]]))
    out = np.empty((n_samples, layer_sizes[-1]), dtype=dtype)
    chunk_size = CHUNK_SIZE
    workspaces = {}

    def work(slot, start, stop):
        if slot not in workspaces:
            rows = min(chunk_size, n_samples)
            workspaces[slot] = _Workspace(layer_sizes, rows, dtype, X, False)
        chunk = workspaces[slot].chunk(X[start:stop])
        logits = out[start:stop]
        _forward(chunk, layers, logits)
        log_softmax_inplace(logits, chunk.proba, chunk.row)

    with SingleThreadedBlas() as blas_threads:
        _for_each_chunk(
            n_samples,
            chunk_size,
            n_threads or blas_threads,
            _work_per_row(layer_sizes),
            work,
        )
    return out


class Objective:
    """Training objective of a set of rows as a function of ``theta``.

    Parameters
    ----------
    network : Network
        The layout of ``theta``.
    X : {ndarray, sparse CSR matrix} of shape (n_samples, n_features)
        Input rows.
    y : ndarray of int of shape (n_samples,)
        Class indices in ``range(n_outputs)``.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.
    alpha : float
        Strength of the L2 penalty on the weights (not the intercepts).
    n_threads : int, default=None
        The most threads an evaluation may use; None: the BLAS thread limit
        in force at each evaluation (see :class:`SingleThreadedBlas`).

    Notes
    -----
    The rows are cut into chunks of ``CHUNK_SIZE`` rows (its value when the
    objective is made), evaluated on the threads of :func:`_for_each_chunk`
    with single-threaded BLAS.
    An objective keeps the work buffers of two chunks per thread between
    calls, so one objective must not be evaluated by two threads at once.
    """

    def __init__(self, network, X, y, sample_weight, alpha, n_threads=None):
        self.network = network
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.alpha = alpha
        self.n_threads = n_threads
        self.weight_sum = float(sample_weight.sum())
        self.n_evaluations = 0
        self._chunk_size = CHUNK_SIZE
        # Where each row's own class sits in its chunk's flattened
        # (rows, n_outputs) block of log-probabilities.
        rows_in_chunk = np.arange(X.shape[0]) % self._chunk_size
        self._target_index = rows_in_chunk * network.layer_sizes[-1] + y
        self._gradient_weight = sample_weight / self.weight_sum
        # alpha / sum(w) on the weights and 0 on the intercepts: the gradient
        # of the penalty is this times theta, in one pass over the vector.
        self._penalty_scale = np.zeros(network.n_params)
        for coef in network.unpack(self._penalty_scale)[0]:
            coef[...] = alpha / self.weight_sum
        self._work_per_row = _work_per_row(network.layer_sizes)
        self._workspaces = {}

    def value(self, theta):
        """The objective at ``theta``."""
        return self._evaluate(theta, with_gradient=False)[0]

    def value_and_gradient(self, theta):
        """The objective at ``theta`` and its gradient, a new flat vector."""
        return self._evaluate(theta, with_gradient=True)

    def _evaluate(self, theta, with_gradient):
        self.n_evaluations += 1
        network = self.network
        coefs, intercepts = network.unpack(theta)
        layers = _Layers(coefs, intercepts, network.first_layer(theta))
        dtype = np.result_type(self.X.dtype, theta.dtype)
        chunk_losses = {}
        cross_entropy = 0.0
        gradient = None

        def work(slot, start, stop):
            workspace = self._workspace(slot, dtype, with_gradient)
            chunk = workspace.chunk(self.X[start:stop])
            _forward(chunk, layers, chunk.logits)
            log_proba = log_softmax_inplace(chunk.logits, chunk.proba, chunk.row)
            targets = self._target_index[start:stop]
            weight = self.sample_weight[start:stop]
            picked = log_proba.reshape(-1)[targets]
            chunk_losses[slot] = -float(np.dot(weight, picked))
            if with_gradient:
                # dCE/dz of the output layer: softmax(z) - onehot(y), weighted.
                delta = chunk.proba
                delta.reshape(-1)[targets] -= 1
                delta *= self._gradient_weight[start:stop, np.newaxis]
                _backward(chunk, layers, delta, workspace)

        def commit(slot):
            nonlocal cross_entropy, gradient
            cross_entropy += chunk_losses[slot]
            if not with_gradient:
                return
            if gradient is None:
                gradient = self._workspaces[slot].gradient.copy()
            else:
                gradient += self._workspaces[slot].gradient

        with SingleThreadedBlas() as blas_threads:
            _for_each_chunk(
                self.X.shape[0],
                self._chunk_size,
                self.n_threads or blas_threads,
                self._work_per_row,
                work,
                commit,
            )
            penalty_gradient = theta * self._penalty_scale
            penalty = 0.5 * float(np.dot(penalty_gradient, theta))
        loss = cross_entropy / self.weight_sum + penalty
        if with_gradient:
            gradient += penalty_gradient
        return loss, gradient

    def _workspace(self, slot, dtype, with_gradient):
        """The buffers of ``slot`` (see ``_for_each_chunk``), made on first
        use."""
        workspace = self._workspaces.get(slot)
        if (
            workspace is None
            or workspace.dtype != dtype
            or (with_gradient and workspace.gradient is None)
        ):
            rows = min(self._chunk_size, self.X.shape[0])
            workspace = _Workspace(
                self.network.layer_sizes, rows, dtype, self.X, with_gradient
            )
            self._workspaces[slot] = workspace
        return workspace


class _Layers:
    """The parameters of every layer, and the first layer's coefficients
    stacked over its intercepts (see ``Network.first_layer``)."""

    def __init__(self, coefs, intercepts, first):
        self.coefs = coefs
        self.intercepts = intercepts
        self.first = first


class _Workspace:
    """Preallocated buffers of one slot (see ``_for_each_chunk``), for chunks
    of up to ``rows`` rows.

    For dense input, a copy of the chunk's rows with a column of ones
    appended: the first layer's matrix product then adds the intercepts, and
    its transposed product sums dL/dz into their gradient, which saves two
    passes over the first hidden layer for the price of copying the input.
    Per hidden layer: the activations (which back-propagation overwrites
    with dL/dz) and, for the gradient, the derivatives of softplus; one
    scratch array shared by the layers; the softmax and a row vector of the
    output layer, and its logits; for the gradient, a flat vector laid out
    as ``theta``.
    """

    def __init__(self, layer_sizes, rows, dtype, X, with_gradient):
        rows = max(rows, 1)
        n_features, *hidden, n_outputs = layer_sizes
        self.dtype = np.dtype(dtype)
        self._inputs = None
        if not sp.issparse(X):
            self._inputs = np.empty((rows, n_features + 1), dtype)
            self._inputs[:, -1] = 1
        self._activations = [np.empty((rows, width), dtype) for width in hidden]
        self._derivatives = [
            np.empty((rows, width), dtype) if with_gradient else None
            for width in hidden
        ]
        self._scratch = np.empty(rows * max(hidden, default=0), dtype)
        self._logits = np.empty((rows, n_outputs), dtype)
        self._proba = np.empty_like(self._logits)
        self._row = np.empty(rows, dtype)
        self._ones = np.ones(rows, dtype)
        self._chunks = {}
        self.gradient = None
        if with_gradient:
            network = Network(layer_sizes)
            self.gradient = np.empty(network.n_params, dtype)
            self.grad_first = network.first_layer(self.gradient)
            self.grad_coefs, self.grad_intercepts = network.unpack(self.gradient)

    def chunk(self, X):
        """The buffers' views for the rows ``X`` of one chunk, with the input
        copied in (for dense ``X``)."""
        n_rows = X.shape[0]
        chunk = self._chunks.get(n_rows)
        if chunk is None:
            chunk = self._chunks[n_rows] = self._views(n_rows)
        if self._inputs is None:
            chunk.inputs = X
        else:
            np.copyto(chunk.inputs[:, :-1], X)
        return chunk

    def _views(self, n_rows):
        return _Chunk(
            inputs=None if self._inputs is None else self._inputs[:n_rows],
            activations=[a[:n_rows] for a in self._activations],
            derivatives=[d if d is None else d[:n_rows] for d in self._derivatives],
            scratch=[
                self._scratch[: n_rows * a.shape[1]].reshape(n_rows, a.shape[1])
                for a in self._activations
            ],
            logits=self._logits[:n_rows],
            proba=self._proba[:n_rows],
            row=self._row[:n_rows],
            ones=self._ones[:n_rows],
            augmented=self._inputs is not None,
        )


class _Chunk:
    """Named views of a workspace's buffers for chunks of one size."""

    def __init__(
        self,
        inputs,
        activations,
        derivatives,
        scratch,
        logits,
        proba,
        row,
        ones,
        augmented,
    ):
        self.inputs = inputs
        self.activations = activations
        self.derivatives = derivatives
        self.scratch = scratch
        self.logits = logits
        self.proba = proba
        self.row = row
        self.ones = ones
        self.augmented = augmented


def _forward(chunk, layers, logits):
    """Forward pass of one chunk: the hidden activations (and derivatives,
    where the chunk has room for them) in place, and the logits in
    ``logits``."""
    last = len(layers.coefs) - 1
    inputs = chunk.inputs
    for layer in range(last + 1):
        z = logits if layer == last else chunk.activations[layer]
        if layer == 0 and chunk.augmented:
            np.matmul(inputs, layers.first, out=z)
        else:
            _product(inputs, layers.coefs[layer], z)
            z += layers.intercepts[layer]
        if layer != last:
            softplus_inplace(z, chunk.scratch[layer], chunk.derivatives[layer])
            inputs = z


def _backward(chunk, layers, delta, workspace):
    """Back-propagate ``delta = dL/dz`` of the output layer of one chunk into
    the workspace's gradient (after ``_forward``)."""
    for layer in range(len(layers.coefs) - 1, -1, -1):
        if layer == 0 and chunk.augmented:
            np.matmul(chunk.inputs.T, delta, out=workspace.grad_first)
        else:
            inputs = chunk.inputs if layer == 0 else chunk.activations[layer - 1]
            _product(inputs.T, delta, workspace.grad_coefs[layer])
            # A matrix-vector product sums the rows several times faster
            # than np.sum(axis=0).
            np.matmul(chunk.ones, delta, out=workspace.grad_intercepts[layer])
        if layer > 0:
            # This layer's input, the activations below, served its last
            # purpose in this layer's gradient just above: its buffer takes
            # dL/dz of the layer below.
            back = chunk.activations[layer - 1]
            np.matmul(delta, layers.coefs[layer].T, out=back)
            delta = np.multiply(back, chunk.derivatives[layer - 1], out=back)


def _work_per_row(layer_sizes):
    """Multiply-adds per row of a forward pass."""
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def _product(a, b, out):
    """``out[...] = a @ b`` for dense or sparse ``a``."""
    if sp.issparse(a):
        out[...] = a @ b
    else:
        np.matmul(a, b, out=out)


# The BLAS libraries loaded in the process, as threadpoolctl controls them;
# looked up once, on first use.
_blas_libraries = []
_blas_lookup = threading.Lock()

# Multiply-adds of a call below which the chunks run on the calling thread
# alone: starting and synchronising threads ate the gain below about 1.5 ms
# of work (a two-core AMD EPYC: 4.3 million multiply-adds ran 0.8 times as
# fast on two threads, 8.5 million 1.1 times, 25 million 1.4 times).
MIN_THREADED_WORK = 8_000_000


def _blas():
    with _blas_lookup:
        if not _blas_libraries:
            controller = ThreadpoolController().select(user_api="blas")
            _blas_libraries.append(controller.lib_controllers)
    return _blas_libraries[0]


class SingleThreadedBlas:
    """Context in which BLAS runs on one thread; entering it gives the BLAS
    thread limit that was in force (as ``threadpoolctl.threadpool_limits``
    or ``OPENBLAS_NUM_THREADS`` set it), which is the number of threads the
    chunks may use.

    With more threads, OpenBLAS splits some products and the sums of dot
    products of more than 10000 numbers between them, which changes their
    rounding: on one thread every product comes out the same whatever the
    limit, and the worker threads of :func:`_for_each_chunk` do not
    oversubscribe the cores. Entering and leaving costs a few microseconds
    and nothing when the limit is already one, so a training loop can run
    wholly inside it (reading the thread count first), which also keeps
    OpenBLAS's own threads, which spin for about 0.1 s after a
    multi-threaded call, from competing with the workers.
    """

    def __enter__(self):
        self._libraries = _blas()
        self._limits = [library.num_threads for library in self._libraries]
        for library, limit in zip(self._libraries, self._limits):
            if limit != 1:
                library.set_num_threads(1)
        return max(self._limits, default=1)

    def __exit__(self, *exception):
        for library, limit in zip(self._libraries, self._limits):
            if limit != 1:
                library.set_num_threads(limit)


def _for_each_chunk(n_samples, chunk_size, n_threads, work_per_row, work, commit=None):
    """Call ``work(slot, start, stop)`` for every chunk of ``chunk_size``
    rows, and after each chunk ``commit(slot)``, in chunk order.

    ``slot`` numbers the buffers that ``work`` fills and ``commit`` reads:
    a slot is not handed out again before its chunk is committed, and
    ``commit`` is called for chunk ``k`` only after it was called for chunks
    ``0..k-1``, which fixes the order of any sum that it accumulates. The
    chunks run on up to ``n_threads`` threads, at most one per chunk, and
    on the calling thread alone (with slot 0) when the call has less than
    ``MIN_THREADED_WORK`` multiply-adds (``work_per_row`` per row). Call it
    within ``SingleThreadedBlas``.
    """
    n_chunks = -(-n_samples // chunk_size)
    n_threads = min(n_threads, n_chunks)
    if n_threads > 1 and n_samples * work_per_row >= MIN_THREADED_WORK:
        _run_threads(n_threads, n_samples, chunk_size, work, commit)
        return
    for start in range(0, n_samples, chunk_size):
        work(0, start, min(start + chunk_size, n_samples))
        if commit is not None:
            commit(0)


def _run_threads(n_threads, n_samples, chunk_size, work, commit):
    """The threaded part of ``_for_each_chunk``.

    A thread takes the next chunk and a free slot, works, and leaves the
    slot with the finished chunks; whichever thread finds the next chunk in
    order among them commits it, and the ones after it, outside the lock.
    Two slots per thread let a thread go on while the chunk before its own
    is still running on a thread that the operating system has paused.
    """
    n_chunks = -(-n_samples // chunk_size)
    lock = threading.Condition()
    free_slots = list(range(2 * n_threads - 1, -1, -1))
    finished = {}
    next_chunk = 0
    next_commit = 0
    committing = False
    failures = []

    def commit_in_order():
        nonlocal next_commit, committing
        while True:
            with lock:
                slot = finished.pop(next_commit, None)
                if slot is None or failures:
                    committing = False
                    return
            if commit is not None:
                commit(slot)
            with lock:
                next_commit += 1
                free_slots.append(slot)
                lock.notify_all()

    def run():
        nonlocal next_chunk, committing
        try:
            while True:
                with lock:
                    while not free_slots and not failures:
                        lock.wait()
                    if failures or next_chunk == n_chunks:
                        return
                    chunk, slot = next_chunk, free_slots.pop()
                    next_chunk += 1
                start = chunk * chunk_size
                work(slot, start, min(start + chunk_size, n_samples))
                with lock:
                    finished[chunk] = slot
                    if committing:
                        continue
                    committing = True
                commit_in_order()
        except BaseException as exc:
            with lock:
                failures.append(exc)
                lock.notify_all()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(n_threads - 1)]
    for thread in threads:
        thread.start()
    run()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
