"""Data helpers shared by every kzoo package (locating ``../shared/data``, readers)."""

from zoo.data.paths import ENV_VAR, find_shared_data, shared_data_dir

__all__ = ["ENV_VAR", "find_shared_data", "shared_data_dir"]
