"""latent-bench: benchmarks of search in the latent space of trained generators.

The three contracts are ``bench.problem.Problem``, ``bench.algorithm.Algorithm``
and ``bench.generator.Generator``; ``bench.runner.execute`` runs one search and
``bench.campaign.run_campaign`` a matrix of them. Problems, algorithms and
generators are found through entry points (``bench.registry``).
"""

__version__ = "0.1.0"
