"""The ``fieldhub`` command. Subcommands import their dependencies lazily, so ``fieldhub agent``
works with the base dependencies alone."""
