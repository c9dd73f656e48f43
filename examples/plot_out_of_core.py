"""
=====================================
Out-of-core training from a file
=====================================

A data set larger than memory can live in a file and be read a chunk at a
time: :class:`numpy.memmap` maps the file, and each
:meth:`~skmlp.SoftplusMLPClassifier.partial_fit` call trains on one chunk.
This example writes a data set to disk, trains on it chunk by chunk without
ever loading it whole, checks that this is exactly training with mini-batches
of the chunk size (given a numeric learning rate), and measures the memory
that training allocates. The
"Scaling out" page of the documentation does the same with a Dask array and
dask-ml's ``Incremental``.
"""

# %%
# A data set on disk
# ------------------
# The rows are written to a file in a temporary folder; only the file is
# used from here on.
import shutil
import tempfile
import tracemalloc
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from skmlp import SoftplusMLPClassifier

n_samples, n_features, chunk = 40_000, 50, 4_000
X, y = make_classification(
    n_samples=n_samples,
    n_features=n_features,
    n_informative=20,
    n_classes=3,
    random_state=0,
)
folder = Path(tempfile.mkdtemp())
np.save(folder / "y.npy", y)
on_disk = np.memmap(folder / "X.dat", dtype=np.float64, mode="w+", shape=X.shape)
on_disk[:] = X
on_disk.flush()
del X, on_disk
print(f"{(folder / 'X.dat').stat().st_size / 2**20:.1f} MiB on disk")

# %%
# Training chunk by chunk
# -----------------------
# The file is mapped read-only; a slice of it is read from disk when
# ``partial_fit`` touches it. Every call is one solver step on that chunk,
# and NAG's momentum runs on from chunk to chunk. A call on other rows than
# the last call's is a chunk, for which ``momentum='auto'`` is the 0.9 of
# mini-batches, and ``learning_rate_init='auto'`` backtracks as on them; the
# first call cannot tell its rows from a whole data set, and would take the
# full batch's adaptive step. A fixed ``learning_rate_init`` makes the loop
# exactly ``fit`` on mini-batches (below); the momentum is written out.
X_file = np.memmap(folder / "X.dat", dtype=np.float64, mode="r").reshape(
    n_samples, n_features
)
y_all = np.load(folder / "y.npy")
classes = np.unique(y_all)
params = dict(
    hidden_layer_sizes=(32,), learning_rate_init=0.1, momentum=0.9, random_state=0
)
clf = SoftplusMLPClassifier(**params)
losses = []
tracemalloc.start()
for _pass in range(3):
    for start in range(0, n_samples, chunk):
        rows = slice(start, start + chunk)
        clf.partial_fit(X_file[rows], y_all[rows], classes=classes)
        losses.append(clf.loss_)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(f"peak of the memory allocated while training: {peak / 2**20:.1f} MiB")
print(f"the whole data set would take {n_samples * n_features * 8 / 2**20:.1f} MiB")

# %%
# The same as mini-batches
# ------------------------
# Passing over the chunks in order is exactly what ``fit`` does with
# ``batch_size`` equal to the chunk size and no shuffling, with the same
# (numeric) momentum and learning rate: here checked on the data loaded
# whole. The weights agree to the last bits of their rounding.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    reference = SoftplusMLPClassifier(
        batch_size=chunk, shuffle=False, max_iter=3, **params
    ).fit(np.asarray(X_file), y_all)
largest = max(
    np.abs(a - b).max()
    for a, b in zip(
        clf.coefs_ + clf.intercepts_, reference.coefs_ + reference.intercepts_
    )
)
print(f"largest difference from fit(batch_size={chunk}): {largest:.1e}")
print(f"training accuracy: {clf.score(X_file, y_all):.3f}")

# %%
# The loss of every chunk
# -----------------------
# Each point is the objective of one chunk at the point where its gradient
# was taken; the dashed lines mark the passes over the file.
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.arange(1, len(losses) + 1), losses)
for boundary in range(n_samples // chunk, len(losses), n_samples // chunk):
    ax.axvline(boundary + 0.5, color="grey", linestyle="--", linewidth=0.8)
ax.set_xlabel("partial_fit call (one chunk)")
ax.set_ylabel("loss of the chunk")
ax.set_title("Training from a memory-mapped file")
fig.tight_layout()
plt.show()

# %%
# The file is no longer needed.
del X_file
shutil.rmtree(folder)
