"""Gradio glue shared by the app and every Space: launching, loading demo tabs, turning errors into messages.

The model layer (gen_models) knows nothing of gradio; the demos' ui.py files only wire components to it.
"""

from .launch import launch, parse_args
from .loading import DEMOS, Demo, load_demo
from .messages import user_errors
from .weights import WeightsPanel, weights_panel

__all__ = ["DEMOS", "Demo", "WeightsPanel", "launch", "load_demo", "parse_args", "user_errors", "weights_panel"]
