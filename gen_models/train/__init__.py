"""Training loops usable from the command line (``python -m gen_models.train …``) and from the UI."""
