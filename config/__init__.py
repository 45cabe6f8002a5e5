"""Settings shared by every TrackMint service, read from TRACKMINT_* environment variables."""

from config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
