"""Problems: what a latent-space search optimises.

Each module holds one family; every problem registers under the
``bench.problems`` entry-point group (see ``pyproject.toml``).

- ``analytic``: ``Sphere``, ``Rastrigin`` — cheap landscapes with a known optimum.

The face judge (seeds digest §1) lives in small modules that problems share:
``facenet_import`` (frozen TF graph → InceptionResnetV1 state dict, checked),
``facenet_weights`` (sources, cache, ``load_facenet``), ``face_targets``
(photos → aligned faces → embeddings and targets), ``facenet_verify`` (the
labelled-pairs proof) and ``dlib_judge`` (the independent second judge).
``face``: ``FaceSimilarity`` on any face generator, with the fixed crop box of
``face_crop`` (not registered until a face generator ships).
"""
