"""Using published versions: the model store and the command line."""
