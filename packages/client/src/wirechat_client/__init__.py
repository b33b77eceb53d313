"""wirechat's terminal client: the ``wirechat`` command, a Textual app on the wirechat codec.

Layout: :mod:`.net` is the connection (asyncio, no Textual); :mod:`.app` the thin App that
runs it in a worker; :mod:`.screens` and :mod:`.widgets` the UI, styled by ``app.tcss``;
:mod:`.commands`, :mod:`.completion`, :mod:`.history`, :mod:`.lines` and :mod:`.prefs` pure
helpers the UI uses.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wirechat-client")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0"
