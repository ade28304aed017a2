"""The `python -m keras_gnap` command line."""
