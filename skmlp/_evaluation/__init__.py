"""The objective evaluated at speed.

``objective.py`` composes the objective once (the datafit's sum over a
source of rows, divided by the weight, plus the penalty); ``blocks.py``
computes the mathematics of :mod:`skmlp._math` over blocks of rows in
buffers made once; ``execution.py`` runs the parts of an evaluation on
threads with BLAS held to one; ``fingerprint.py`` tells whether two calls
have the same rows.
"""
