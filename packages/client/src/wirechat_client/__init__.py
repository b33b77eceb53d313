"""wirechat client."""
