"""The deployment's configuration directory (config/<deployment>/), loaded and validated."""
