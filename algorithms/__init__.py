"""Algorithms: ask/tell searches over flat genomes.

Each module holds one family; every algorithm registers under the
``bench.algorithms`` entry-point group (see ``pyproject.toml``).

- ``random_sampling``: ``RandomSampling`` — fresh prior samples each iteration.
- ``ga``: ``GeneticAlgorithm`` — the face study's eaSimple-style GA.
- ``operators``: the vectorised selection, crossover and mutation operators.
"""
