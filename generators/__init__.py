"""Generators: trained networks from latents to images in [-1, 1].

Every generator follows ``bench.generator.Generator`` and registers under the
``bench.generators`` entry-point group. None ships yet: the DCGANs and
StyleGAN2 arrive with their own issues.
"""
