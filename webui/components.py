"""Gradio input components whose own checks speak like the rest of the app.

Gradio validates inputs before a handler runs, so its messages are the first a user meets: ``Image`` decoded every
upload with Pillow (an opaque "Error" for a text file named .png, 16-bit PNGs clipped to white), and sliders said
"Value 1000000 is greater than maximum value 64" without saying which slider. These subclasses keep Gradio's
front end (same block names) and change only the server side:

- ``Image`` hands the handler the uploaded file's path as the user gave it; ``gen_models.media.image.load_image`` then decodes
  it, names the file in every message and converts 16-bit, CMYK and transparent images instead of clipping them.
- ``Slider``, ``Number``, ``Dropdown`` and ``Radio`` put their label in front of Gradio's range and choice errors.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio import image_utils

from gen_models.core.manifest import load_manifest

from .messages import error


class _NamedErrors:
    """Mixin: a gr.Error raised by Gradio's preprocessing names the control it came from."""

    label: Any

    def get_block_name(self) -> str:
        gradio_class = next(c for c in type(self).__mro__ if c.__module__.startswith("gradio."))
        return gradio_class.__name__.lower()  # the front end of the gradio class this one derives from

    def preprocess(self, payload: Any) -> Any:
        try:
            return super().preprocess(payload)  # type: ignore[misc]
        except gr.Error as exc:
            raise error(f"{self.label or type(self).__name__}: {exc.message}") from None


class Slider(_NamedErrors, gr.Slider):
    pass


class Number(_NamedErrors, gr.Number):
    pass


class Dropdown(_NamedErrors, gr.Dropdown):
    pass


class Radio(_NamedErrors, gr.Radio):
    pass


class Image(_NamedErrors, gr.Image):
    """An image input that passes the uploaded file's path on undecoded, whatever its ``type`` says.

    No ``__init__`` of its own: Gradio reads a component's page settings from its constructor's signature.
    """

    def preprocess(self, payload: Any) -> str | None:
        if payload is None:
            return None
        if (payload.url or "").startswith("data:"):  # webcam and clipboard pictures, drawn by the browser
            return image_utils.decode_base64_to_file(payload.url, self.GRADIO_CACHE, "png")
        if not payload.path:
            raise error(f"{self.label or 'Image'}: the upload did not arrive; try again.")
        return str(payload.path)  # the upload, named as the user named it


def model_dropdown(task: str, label: str = "Model", *, titles: bool = False, none: str | None = None,
                   **kwargs: Any) -> Dropdown:
    """A menu of the catalog's models for ``task`` with the task's default selected: adding a catalog entry adds
    it here. ``titles`` shows the entries' short titles instead of their names; ``none`` puts an empty choice
    with that text first."""
    entries = load_manifest().for_task(task)
    choices: list[tuple[str, str]] = [(e.label if titles else e.name, e.name) for e in entries]
    if none is not None:
        choices.insert(0, (none, ""))
    value = kwargs.pop("value", entries[0].name if entries else None)
    return Dropdown(choices=choices, value=value, label=label, **kwargs)
