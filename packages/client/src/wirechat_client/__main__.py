"""``python -m wirechat_client``: the same as the ``wirechat`` command."""

from __future__ import annotations

from .cli import main_exit

main_exit()
