"""What the tabs, the API and the CLI call: plain data (paths, arrays, dataclasses) in and out."""
