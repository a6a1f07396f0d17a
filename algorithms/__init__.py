"""Algorithms: ask/tell searches over flat genomes.

Each module holds one family; every algorithm registers under the
``bench.algorithms`` entry-point group (see ``pyproject.toml``).

- ``random_sampling``: ``RandomSampling`` — fresh prior samples each iteration.
- ``ga``: ``GeneticAlgorithm`` — the face study's eaSimple-style GA.
- ``ga_set``: ``SetGeneticAlgorithm`` — the set-diversity study's GA (uniform
  crossover, gene reset).
- ``map_elites``: ``QualityDiversity`` (the pyribs scheduler base),
  ``MapElites`` and its emitter ``CrossoverEmitter`` — the set-diversity study's
  MAP-Elites; ``fallback_measure_space`` for problems without measures.
- ``pyribs_emitters``: ``GaussianMapElites``, ``IsoLineMapElites``, ``CmaMe``,
  ``CmaMae`` — pyribs' standard emitters on the same grid.
- ``pymoo_adapter``: ``PymooAlgorithm`` — runs a pymoo single-objective
  algorithm through pymoo's own ask/tell (bounds, restarts, seeds).
- ``pymoo_algorithms``: the registered ``pymoo:<name>`` subclasses (``PymooGA``,
  ``PymooDE``, ``PymooCMAES``, ``PymooPSO``, ``PymooES``, ``PymooSRES``,
  ``PymooISRES``, ``PymooG3PCX``, ``PymooNelderMead``, ``PymooNRBO``).
- ``operators``: the vectorised selection, crossover and mutation operators.
"""
