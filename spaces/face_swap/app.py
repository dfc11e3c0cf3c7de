"""This demo on its own, as a Hugging Face Space runs it: python spaces/<demo>/app.py [--host H] [--port P] [--share]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from webui.space import main  # noqa: E402

if __name__ == "__main__":
    main(__file__)
