"""Cheap problems with measures for the quality-diversity and passive-archive tests.

No registered problem has measures yet (the set-diversity problems will), so the
tests bring their own: a sphere whose measures are the mean and the spread of
the genes. Random N(0, 1) genomes crowd into a few cells of that grid (mean
near 0, spread near 1), which is what makes coverage a meaningful comparison.
"""

import numpy as np

from bench.problem import MeasureSpace, Problem


class MeasuredSphere(Problem):
    """Sphere around 0.5; measures (mean gene, gene spread) on a 20 × 20 grid."""

    sense = "min"
    measure_space = MeasureSpace(
        names=("mean gene", "gene spread"), ranges=((-2.0, 2.0), (0.0, 3.0)), bins=(20, 20)
    )

    def __init__(self, dim=16, worst_fitness=None, nan_every=0):
        self.genome_shape = (dim,)
        self.worst_fitness = worst_fitness
        self.nan_every = nan_every
        self.measure_calls = 0

    def evaluate(self, genomes):
        fitness = np.sum((genomes - 0.5) ** 2, axis=1)
        if self.nan_every:
            fitness[:: self.nan_every] = np.nan
        return fitness

    def measures(self, genomes):
        self.measure_calls += 1
        return np.stack([genomes.mean(axis=1), genomes.std(axis=1)], axis=1)


class MeasuredScore(MeasuredSphere):
    """The same grid, maximising a score bounded above by 0 with worst score -10."""

    sense = "max"

    def evaluate(self, genomes):
        return np.maximum(-super().evaluate(genomes), -10.0)
