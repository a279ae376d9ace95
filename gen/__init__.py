"""madvq flows that turn a configuration into files, and the ``madvq`` command."""
