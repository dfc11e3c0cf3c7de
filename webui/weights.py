"""A tab's weights panel: which weights the selected model needs, whether they are on this machine, and a
"Download <name> (N MB)" button for those that are not.

Call :func:`weights_panel` inside a tab's ``build()``. The status is computed when each page loads and when the
model changes: ``gr.on(triggers=None, ...)`` listens to the root Blocks' ``load`` plus the dropdown's ``change``, so
it works from inside a tab and a file fetched from a shell shows up on reload (never a status frozen at server
start). While weights are missing the tab's buttons are off and the box says why.

The panel's events are private API. Gradio gives a repeated ``api_name`` a suffix (``download_weights_1``...), so
one public name cannot be shared by several tabs' panels; a tab that wants its download in the API passes its own
``api_name`` (say ``"age_download_weights"``). Clients can also prefetch with ``python -m gen_models fetch``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import gradio as gr

from gen_models.core.availability import WeightsStatus, download_weights, weights_status
from gen_models.core.hub import offline

from .messages import user_errors

PROGRESS_EVERY_S = 0.1  # at most ten progress messages a second, however small the chunks


@dataclass(frozen=True)
class WeightsPanel:
    """The panel's components, for a tab that wants to chain events on them."""

    status: gr.Markdown
    download: gr.Button


def _mb(size: int | None) -> str:
    return f"{size / 1e6:.1f} MB" if size is not None else "size unknown"


def _origin(status: WeightsStatus) -> str:
    """Where the file comes from, short enough for a narrow column: a pinned commit cut to 12 digits, a url to its
    host and file name."""
    if "://" in status.origin:
        address = urlsplit(status.origin)
        return f"{address.netloc}/…/{address.path.rsplit('/', 1)[-1]}"
    return re.sub(r"@([0-9a-f]{12})[0-9a-f]{28}$", r"@\1", status.origin)


def _line(status: WeightsStatus) -> str:
    about = f" — {status.description}" if status.description else ""
    if status.bundled:
        return f"- **{status.name}** · bundled, no download · licence {status.license}{about}"
    state = f"on this machine ({_mb(status.size)})" if status.present else f"**not downloaded yet, {_mb(status.size)}**"
    return f"- **{status.name}** · {state} · licence {status.license} · from `{_origin(status)}`{about}"


def _view(statuses: Sequence[WeightsStatus], buttons: int) -> list:
    """Updates for [status box, download button, *buttons]."""
    missing = [s for s in statuses if not s.present]
    lines = ["**Weights this model needs**", *map(_line, statuses)] if statuses else []
    names = " ".join(s.name for s in missing)
    if missing and offline():
        lines.append(f"\nOffline mode is on (HF_HUB_OFFLINE), so the buttons stay off: prefetch with "
                     f"`python -m gen_models fetch {names}` where the Hub is reachable, or put the files in "
                     f"$GEN_MODELS_WEIGHTS_DIR/<name>/.")
    elif missing:
        lines.append("\nThe buttons stay off until these weights are on this machine: download them here, or "
                     f"prefetch with `python -m gen_models fetch {names}`.")
    total = None if any(s.size is None for s in missing) else sum(s.size or 0 for s in missing)
    label = f"Download {', '.join(s.name for s in missing)}" + (f" ({_mb(total)})" if total is not None else "")
    download = gr.update(value=label, visible=bool(missing) and not offline())
    return ["\n".join(lines), download, *[gr.update(interactive=not missing)] * buttons]


def _reporter(progress: gr.Progress, name: str) -> Callable[[int, int | None], None]:
    """A byte callback for download_weights that feeds ``progress``, throttled to PROGRESS_EVERY_S."""
    last = 0.0

    def report(done: int, total: int | None) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S or (total is not None and done >= total):
            last = now
            progress((done, total), desc=f"Downloading {name}", unit="bytes")

    return report


def weights_panel(
    model: gr.components.Component | str | Iterable[str],
    buttons: Sequence[gr.Button],
    *,
    needs: Callable[[str], Iterable[str]] | None = None,
    api_name: str | None = None,
) -> WeightsPanel:
    """Add the weights box and Download button to the current Blocks (call it inside a tab's ``build()``).

    ``model`` is the tab's model dropdown (its value is a manifest or bundled name; an empty value needs nothing),
    or the fixed name(s) the tab always needs. ``needs`` maps a dropdown value to the names it needs when that is
    not just the value itself. ``buttons`` are turned off while weights are missing and back on once downloaded.
    """
    dropdown = model if isinstance(model, gr.components.Component) else None
    fixed = None if dropdown is not None else ([model] if isinstance(model, str) else list(model))

    def names_for(value: str | None) -> list[str]:
        if fixed is not None:
            return fixed
        return list(needs(value)) if needs and value else [value] if value else []

    box = gr.Markdown()
    download = gr.Button("Download", visible=False, size="sm")
    inputs, outputs = ([dropdown] if dropdown is not None else []), [box, download, *buttons]

    @user_errors
    def refresh(value: str | None = None) -> list:
        return _view(weights_status(names_for(value)), len(buttons))

    @user_errors
    def fetch(value: str | None = None, progress: gr.Progress = gr.Progress()) -> list:
        for status in weights_status(names_for(value)):
            if not status.present:
                download_weights(status.name, _reporter(progress, status.name))
        return refresh(value)

    gr.on(None, refresh, inputs, outputs, api_visibility="private", show_progress="hidden")
    visibility = {"api_name": api_name} if api_name else {"api_visibility": "private"}
    download.click(fetch, inputs, outputs, show_progress_on=[box], concurrency_limit=None, **visibility)
    return WeightsPanel(box, download)
