"""
=====================================
Training one model on a Dask cluster
=====================================

A full-batch gradient is a sum over rows. When the rows are a Dask array (or
DataFrame) and a ``dask.distributed`` client is running,
:meth:`~skmlp.SoftplusMLPClassifier.fit` keeps every block of rows on the
worker that holds it: each step sends the parameters to the workers, each
worker returns the loss and gradient of its blocks, and the client adds them
up in block order. The model is the one the in-memory fit gives, to the
rounding of the additions; only the parameters and one gradient per block
cross the network.

This example starts a small cluster in this process (a real one would be
reached by its scheduler's address), trains on a Dask array, checks the
model against the in-memory fit, and predicts lazily. It needs the ``dask``
extra (``pip install ".[dask]"`` from a clone of the repository).
"""

# %%
# A cluster and rows on it
# ------------------------
# ``processes=False`` keeps the two workers in threads of this process, so
# that the example starts fast; with ``processes=True`` (the default) each
# worker is a process of its own, and the same code runs unchanged.
import warnings

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier

cluster = LocalCluster(
    n_workers=2,
    threads_per_worker=1,
    processes=False,
    dashboard_address=":0",  # any free port: no clash with another cluster
)
client = Client(cluster)

X, y = make_classification(
    n_samples=4_000, n_features=10, n_informative=6, n_classes=3, random_state=0
)
X = StandardScaler().fit_transform(X)
# Four blocks of 1,000 rows. Data that only exists on the cluster would be
# read there instead (dask.dataframe.read_parquet, da.from_zarr, ...).
X_dask = da.from_array(X, chunks=(1_000, X.shape[1]))
y_dask = da.from_array(y, chunks=1_000)

# %%
# Training where the rows are
# ---------------------------
# Any solver works: here NAG with the backtracking step. ``batch_size``
# must stay None: the cluster takes full-batch steps.
params = dict(
    hidden_layer_sizes=(16,),
    learning_rate_init="auto",
    max_iter=60,
    random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    on_cluster = SoftplusMLPClassifier(**params).fit(X_dask, y_dask)
    in_memory = SoftplusMLPClassifier(**params).fit(X, y)

largest = max(np.abs(a - b).max() for a, b in zip(on_cluster.coefs_, in_memory.coefs_))
print(f"largest difference of a weight from the in-memory fit: {largest:.1e}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(in_memory.loss_curve_, lw=4, alpha=0.4, label="in memory")
ax.plot(on_cluster.loss_curve_, "--", label="on the cluster")
ax.set(xlabel="step", ylabel="training loss", yscale="log")
ax.legend()
fig.tight_layout()

# %%
# Lazy predictions
# ----------------
# On a Dask array, ``predict`` and ``predict_proba`` return Dask arrays,
# computed block by block when asked for; ``score`` computes on the cluster.
proba = on_cluster.predict_proba(X_dask)
print(proba)
print("first rows:", proba[:3].compute().round(3))
print(f"accuracy: {on_cluster.score(X_dask, y_dask):.3f}")

client.close()
cluster.close()
