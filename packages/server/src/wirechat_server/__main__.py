"""``python -m wirechat_server`` runs ``chat-server``."""

from .cli import main_exit

main_exit()
