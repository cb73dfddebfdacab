"""Settings modules: ``base`` (dev-safe defaults), ``test`` and ``production``."""
