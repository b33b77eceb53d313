"""What to say when a screenshot (F4, "Save screenshot") could not be saved.

Textual saves it in the downloads folder (``XDG_DOWNLOAD_DIR``, else ``~/Downloads``) and says
only "Failed to save screenshot": on a machine without that folder (a server over ssh) the user
learns neither where it tried nor what to do.
"""

from __future__ import annotations

from pathlib import Path


def screenshot_failure(error: BaseException) -> str:
    """A sentence naming the file (or folder) and the fault."""
    filename = getattr(error, "filename", None)
    if not isinstance(error, OSError) or filename is None:
        return f"Could not save the screenshot: {error}."
    path = Path(filename)
    if isinstance(error, FileNotFoundError) and not path.parent.exists():
        return (
            f"Could not save the screenshot in {path.parent}: there is no such folder "
            "(make it, or set XDG_DOWNLOAD_DIR to another)."
        )
    return f"Could not save the screenshot as {path}: {error.strerror or error}."
