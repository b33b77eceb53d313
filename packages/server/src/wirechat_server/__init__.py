"""wirechat server."""

#: The release; the package's metadata reads it from here (tool.hatch.version), so the server
#: need not load importlib.metadata (1.7 MiB of memory) to announce it.
__version__ = "0.1.0"
