"""Exceptions with messages meant for the person using the demo.

Every error a user can cause (bad upload, missing weights) is a ``GenModelsError``; the UI shows its
message as is, and the API returns it, so messages say what went wrong and what to do.
"""


class GenModelsError(Exception):
    """Base class: the message is shown to users verbatim."""


class InputError(GenModelsError, ValueError):
    """The user's input cannot be used (not an image, truncated, too large, no frames, ...)."""


class ManifestError(GenModelsError):
    """weights_manifest.json is malformed; the message names the entry and the field."""


class WeightsUnavailableError(GenModelsError, FileNotFoundError):
    """Weights are neither in the local folder nor in the cache, and the Hub cannot provide them."""


class WeightsIntegrityError(GenModelsError):
    """A downloaded or local weights file does not match the pinned sha256, or cannot be parsed."""


class Cancelled(GenModelsError):
    """The request that asked for this work was stopped or its client went away: the work ends, writing nothing."""
