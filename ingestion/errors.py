"""Errors a user can act on: each names the source and what to set or fix."""


class SourceError(RuntimeError):
    """Base class for ingestion errors with an actionable message."""


class SourceAuthError(SourceError):
    """The vendor rejected the credentials (401/403)."""


class SourceConfigError(SourceError):
    """A required setting is missing or malformed."""


class PendingPackageError(SourceError):
    """A load package extracted by an earlier run is still waiting and failed to load again."""
