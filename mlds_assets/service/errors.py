"""The service's own errors, in a module that loads nothing else: the CLI catches them without importing
Dagster."""


class BatchError(ValueError):
    """`mlds batch` was asked about a batch the platform does not have, or one a run is working on."""


class RunLaunchError(RuntimeError):
    """A run could not be launched or waited for (the webserver refused it, the wait ran out)."""
