"""The solvers over the flat parameter vector.

``first_order.py`` holds gradient descent and Nesterov's accelerated
gradient and ``make_solver``; their step rules are in ``step_size.py``
(fixed, backtracking) and ``adaptive_step.py`` (Malitsky and Mishchenko's);
``lbfgs.py`` is L-BFGS with its Wolfe line search.
"""
