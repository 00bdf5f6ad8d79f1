"""Files that a crash cannot leave half written."""

import os
from pathlib import Path


def write_atomically(path, text):
    """Write `text` (UTF-8) to a temporary file beside `path`, then rename it over `path`: a reader (or a crash)
    sees the old file or the new one, never half of one. Creates the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{path.name}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
