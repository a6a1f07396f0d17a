"""The subcommands of ``bench``, one module per family; ``bench.cli`` runs them.

Each module has one ``cmd_<name>`` function per subcommand and an
``add_parsers`` that adds their argument parsers: ``search`` (list, run,
campaign, show, leaderboard), ``generators`` (train-generator, pack-dataset,
export-generator) and ``face`` (weights, distance, calibrate-crop). ``common``
holds the option types, folder and device checks and the usage errors.
"""
