"""The SDK's version, reported to the server as context.library.version."""

__version__ = "0.1.0"
