"""The Gradio glue: the error decorator keeps streaming handlers streaming, and controls name themselves in
Gradio's range errors."""

from __future__ import annotations

import inspect

import gradio as gr
import pytest

from gen_models.core.errors import InputError
from webui import DEMOS, load_demo, user_errors
from webui.components import Image, Number, Slider


def _handlers():
    """Every decorated handler of every demo tab, as (tab, name, wrapper)."""
    for demo in DEMOS:
        module = load_demo(demo.folder)
        for name, value in vars(module).items():
            if callable(value) and hasattr(value, "__wrapped__") and value.__module__ == module.__name__:
                yield demo.folder, name, value


def test_every_streaming_handler_stays_a_generator():
    streaming = [(tab, name) for tab, name, fn in _handlers() if inspect.isgeneratorfunction(fn.__wrapped__)]
    assert ("labs", "start_gan") in streaming and ("labs", "resume") in streaming  # the ones that broke in the page
    for tab, name, fn in _handlers():
        assert inspect.isgeneratorfunction(fn) == inspect.isgeneratorfunction(fn.__wrapped__), f"{tab}.{name}"


def test_errors_inside_a_stream_become_messages():
    @user_errors
    def stream(n):
        yield 1
        if n:
            raise InputError("the upload photo.png is not an image")
        yield 2

    assert list(stream(0)) == [1, 2]
    running = stream(1)
    assert next(running) == 1
    with pytest.raises(gr.Error, match="photo.png is not an image"):
        next(running)

    @user_errors
    def broken():
        yield 1 / 0

    with pytest.raises(gr.Error, match=r"Something went wrong \(ZeroDivisionError"):
        list(broken())


def test_range_errors_name_the_control():
    with pytest.raises(gr.Error, match="How many faces: Value 1000 is greater than maximum value 64"):
        Slider(1, 64, label="How many faces").preprocess(1000)
    with pytest.raises(gr.Error, match="Seed: Value -1 is less than minimum value 0"):
        Number(minimum=0, label="Seed").preprocess(-1)
    assert Slider(1, 64, label="n").get_block_name() == "slider" and Image().get_block_name() == "image"


def test_image_input_passes_the_upload_undecoded(tmp_path):
    from gradio.data_classes import FileData

    fake = tmp_path / "photo.png"
    fake.write_text("not a photo")
    assert Image(label="Photo").preprocess(FileData(path=str(fake), orig_name="photo.png")) == str(fake)
    assert Image().preprocess(None) is None


def test_stoppable_work_ends_at_its_next_report_once_closed():
    import threading

    from gen_models.core.errors import Cancelled
    from webui.events import stoppable

    ended = threading.Event()
    seen: list[BaseException] = []

    def render(report):
        try:
            for frame in range(10_000):
                report(frame / 10_000, f"frame {frame}")
                threading.Event().wait(0.001)
        except Cancelled as exc:
            seen.append(exc)
            raise
        finally:
            ended.set()

    work = stoppable(render)
    assert next(work) == (0.0, "frame 0")
    work.close()  # what Gradio's closing of a cancelled handler does
    assert ended.wait(5) and isinstance(seen[0], Cancelled)

    def quick(report):
        report(0.5, "half")
        return "done"

    finished = stoppable(quick)
    assert next(finished) == (0.5, "half")
    with pytest.raises(StopIteration) as stop:
        next(finished)
    assert stop.value.value == "done"


def test_a_full_disk_is_a_message():
    import errno

    @user_errors
    def save():
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(gr.Error, match="disk is full"):
        save()
