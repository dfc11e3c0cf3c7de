"""Infrastructure every layer uses: the catalog (manifest), Hub downloads, the model registry, checkpoints,
devices, settings and server limits. Imports no model and no pipeline."""
