"""The network's mathematics, as the user guide writes it.

``network.py`` holds the forward and backward passes and the objective as
plain functions on arrays; beside them the pieces they are made of: the
datafits, the penalty, the activations, the layout of the parameters in the
flat vector ``theta``, the bounds on the loss over a box of inputs, and the
dot product that rounds the same whatever the number of BLAS threads.
Nothing here knows of blocks, buffers or threads: that is
:mod:`skmlp._evaluation`.
"""
