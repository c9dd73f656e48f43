"""The training loop.

``loop.py`` runs the epochs of one call (batches, stopping, divergence,
Ctrl-C) from plain values and returns plain values; ``history.py`` keeps
the loss curve, the validation scores and the stopping counters.
"""
