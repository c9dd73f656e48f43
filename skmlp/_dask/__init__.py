"""Training and predicting on rows held by a Dask cluster.

``input.py`` cuts Dask arrays and DataFrames into blocks validated where
they are; ``cluster.py`` keeps each block on its worker as the objective of
its rows and composes the cluster's objective from them.
"""
