"""The CLI glue: one module per ``sdft <command>``, each a thin layer over the library.

Every module defines ``add_arguments(parser)`` and ``run(args) -> int`` and opens with a
paste-ready example; :data:`sdft.cli.COMMANDS` lists them. Imports of the stage code happen
inside ``run`` (or inside ``add_arguments`` when the flags come from a stage's config class),
so ``sdft --help`` and a light command never load torch or a backend.
"""
