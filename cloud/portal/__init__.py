"""The web portal: the single-page app built from ``ui/`` into ``dist/`` (shipped in the package), served at ``/``."""
