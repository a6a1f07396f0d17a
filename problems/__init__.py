"""Problems: what a latent-space search optimises.

Each module holds one family; every problem registers under the
``bench.problems`` entry-point group (see ``pyproject.toml``).

- ``analytic``: ``Sphere``, ``Rastrigin`` — cheap landscapes with a known optimum.
"""
