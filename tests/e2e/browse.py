"""What a user does and sees on the page, in Playwright terms: open a tab, upload into a labelled input, press a
button, wait for a result (failing at once, with the message, if an error toast appears instead)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from playwright.sync_api import Locator, Page

T = TypeVar("T")
RESULT_SECONDS = 120.0


def open_tab(page: Page, *titles: str) -> Locator:
    """Click through nested tabs (outer first); returns the innermost visible tab panel."""
    for title in titles:
        page.get_by_role("tab", name=title, exact=True).click()
    scope = page.locator("[role=tabpanel]:visible").last
    scope.wait_for()
    return scope


def block(scope: Locator, label: str) -> Locator:
    """The component whose label is exactly ``label`` (the innermost block showing it)."""
    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    # an inner locator of filter(has=...) is matched inside each block, so it must start from the page
    labelled = scope.page.locator("[data-testid=block-label], [data-testid=block-info], label > span, .label-text")
    found = scope.locator(".block").filter(has=labelled.filter(has_text=exact))
    return found.last


def upload(scope: Locator, label: str, path: str | Path, *, shown: bool = True) -> None:
    """Give ``path`` to the file input of the component labelled ``label``, as a user's file picker would, and wait
    for its preview (``shown=False``: for a file the input refuses, such as a video given to an image input)."""
    target = block(scope, label)
    target.locator("input[type=file]").set_input_files(str(path))
    if shown:
        target.locator("img, video, a, .file-preview, [data-testid=file]").first.wait_for(timeout=20_000)
    else:
        time.sleep(1.0)
        assert not target.locator("img, video").count(), f"{label} took {Path(path).name}"


def press(scope: Locator, name: str) -> None:
    scope.get_by_role("button", name=name, exact=True).click()


def fill_number(scope: Locator, label: str, value: float | str) -> None:
    field = block(scope, label).locator("input[type=number]").first
    field.fill(str(value))
    field.press("Enter")


def choose(scope: Locator, label: str, option: str) -> None:
    """Pick ``option`` (its shown text) in the dropdown labelled ``label``."""
    box = block(scope, label).locator("input").first
    box.click()
    scope.page.get_by_role("option", name=option, exact=True).click()


def toasts(page: Page) -> list[str]:
    """Texts of the error toasts on screen."""
    return [t.strip() for t in page.locator(".toast-body.error").all_inner_texts()]


def close_toasts(page: Page) -> None:
    for button in page.locator(".toast-body .toast-close").all():
        button.click()


def error_badges(scope: Locator) -> int:
    """Outputs that show Gradio's red "Error" status instead of a result."""
    return scope.locator(".error:visible").filter(has_text=re.compile(r"^\s*Error\s*$")).count()


def wait_for(page: Page, check: Callable[[], T | None], what: str, timeout: float = RESULT_SECONDS) -> T:
    """Poll ``check`` until it returns something truthy; an error toast or the timeout fails with a message."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        shown = toasts(page)
        if shown:
            raise AssertionError(f"waiting for {what}, the page showed an error: {shown}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.25)


def eventually(check: Callable[[], object], timeout: float = 10.0) -> bool:
    """Whether ``check`` becomes truthy within ``timeout`` seconds (toasts are not failures here)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def status_text(scope: Locator) -> str:
    """All the Markdown text in ``scope`` (where the training panels write their status)."""
    return " ".join(scope.locator(".prose").all_inner_texts())


def wait_resumed_run(page: Page, scope: Locator, step: re.Pattern, finished: re.Pattern, stopped_step: int
                     ) -> re.Match:
    """After Resume: wait for the ``finished`` status and check that every step shown on the way (group 3 of
    ``step``) came after ``stopped_step``; the finished match (its group 2: the final step) is returned."""
    seen: list[int] = []

    def done():
        status = status_text(scope)
        if (found := step.search(status)):
            seen.append(int(found.group(3)))
        return finished.search(status)

    result = wait_for(page, done, "the resumed run to finish")
    assert int(result.group(2)) > stopped_step
    assert all(s > stopped_step for s in seen), f"resumed at steps {seen}, not after step {stopped_step}"
    return result


def wait_for_toast(page: Page, pattern: str, timeout: float = 60.0) -> str:
    """The first error toast's text, once one appears; it must contain ``pattern`` (a regular expression)."""
    deadline = time.monotonic() + timeout
    while not toasts(page):
        if time.monotonic() > deadline:
            raise AssertionError(f"no error message appeared within {timeout:.0f} s (expected {pattern!r})")
        time.sleep(0.25)
    text = " ".join(toasts(page))
    assert re.search(pattern, text), f"the message {text!r} does not match {pattern!r}"
    return text


def wait_for_message(page: Page, scope: Locator, pattern: str, timeout: float = 60.0) -> str:
    """The message matching ``pattern`` once it is shown, in an error toast or in the tab itself."""
    deadline = time.monotonic() + timeout
    while True:
        shown = " ".join(toasts(page)) + " " + text_of(scope)
        if re.search(pattern, shown):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"no message matching {pattern!r} within {timeout:.0f} s; toasts: {toasts(page)}")
        time.sleep(0.25)


def image_sizes(target: Locator) -> list[tuple[int, int]]:
    """Natural sizes of the loaded images inside ``target`` (decoded by the browser, so really images)."""
    sizes = target.locator("img").evaluate_all(
        "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => [i.naturalWidth, i.naturalHeight])")
    return [tuple(s) for s in sizes]


def video_duration(target: Locator) -> float:
    """Duration in seconds of the video inside ``target`` once the browser has read its metadata (0 before)."""
    videos = target.locator("video")
    if not videos.count():
        return 0.0
    return float(videos.first.evaluate("v => (v.readyState >= 1 && isFinite(v.duration)) ? v.duration : 0"))


def plot_marks(target: Locator, kind: str = "line") -> int:
    """How many drawn marks of ``kind`` (line, rect for bars, symbol for points) a Vega plot shows."""
    return target.locator(f".vega-embed svg .mark-{kind} path").count()


def legend(target: Locator) -> list[str]:
    """The entries of a Vega plot's legend (SVG text has no inner text: read its text content)."""
    labels = target.locator(".vega-embed svg .role-legend-label text")
    return [t.strip() for t in labels.evaluate_all("els => els.map(e => e.textContent || '')")]


def text_of(target: Locator) -> str:
    return target.inner_text().strip()
