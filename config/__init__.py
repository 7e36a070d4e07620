"""Configuration: settings from the environment and ``dossier.toml``, and the taxonomy data files.

This package imports nothing else of dossier's.
"""

from config.errors import ConfigError, DossierError, ErrorCode
from config.settings import Settings, load_settings
from config.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "ConfigError",
    "DossierError",
    "ErrorCode",
    "Settings",
    "Taxonomy",
    "load_settings",
    "load_taxonomy",
]
