"""A dot product rounded the same whatever the number of BLAS threads.

Mathematics, not machinery: the penalty and the solvers' reductions over all
the parameters call :func:`dot`, and depend on this module alone, not on the
executors and BLAS control of :mod:`skmlp._evaluation.execution`.
"""

import numpy as np

# The length from which dot() sums without BLAS. OpenBLAS splits a dot
# product between its threads from 10000 numbers on (its x86-64 kernels);
# one of fewer than this costs less than waking a thread, so BLAS runs it on
# the calling thread, faster than the loop of np.einsum; the solvers' small
# problems keep that speed (the figures are in docs/performance.md, "Results
# do not depend on the number of threads").
BLAS_DOT_BELOW = 2048


def dot(a, b):
    """The dot product of two vectors, as a Python float, rounded the same
    whatever the number of BLAS threads.

    BLAS (``np.dot``, ``@``) splits a long dot product between its threads,
    which changes its rounding; if a thread limit set by
    :class:`~skmlp._evaluation.execution.SingleThreadedBlas` did not take, the solvers'
    reductions over all the parameters would then round differently on one
    thread and on two. ``np.einsum`` without ``optimize`` sums in its own
    loop, on the calling thread, never in BLAS. Vectors shorter than
    ``BLAS_DOT_BELOW``, too short for BLAS to split, go to BLAS, which is
    faster on them.
    """
    if a.shape[0] < BLAS_DOT_BELOW:
        return float(np.dot(a, b))
    return float(np.einsum("i,i", a, b))
