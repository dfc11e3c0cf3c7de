"""One architecture per file, with its own pre/post transforms, config and loader of the official checkpoint."""
