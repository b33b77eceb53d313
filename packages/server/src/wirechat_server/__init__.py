"""wirechat server."""
