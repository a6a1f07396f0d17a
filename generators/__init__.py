"""Generators: trained networks from latents to images in [-1, 1].

Every generator follows ``bench.generator.Generator`` and registers under the
``bench.generators`` entry-point group as a factory that returns it with its
weights loaded.

- ``dcgan``: ``DCGANGenerator``, ``DCGANDiscriminator`` — the set-diversity study's networks.
- ``dcgan_training``: ``train``, ``TrainConfig`` — resumable, seeded training.
- ``quality``: classifier figures (digits) and MTCNN face rate (faces) of a generator.
- ``export``: ``export_dcgan`` — weights, measured quality and a model card.
- ``zoo``: ``dcgan_mnist`` and friends — the factories of the shipped weights in ``weights/``.
"""
