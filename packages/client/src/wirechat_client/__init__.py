"""wirechat's terminal client: the ``wirechat`` command, a Textual app on the wirechat codec.

Layout: :mod:`.net` is the connection (asyncio, no Textual), which reconnects by
:mod:`.link`'s backoff and resumes without loss with :mod:`.resume` (cursors, session, which
page answers what) and :mod:`.outbox` (lines awaiting their ack); :mod:`.events` is what it
reports. :mod:`.app` is the thin App that runs it in a worker; :mod:`.feed` puts its events in
the right :mod:`.conversation` (a room or a direct-message peer; :mod:`.conversations` lists
them), whose lines (:mod:`.lines`) a :mod:`.log_model` holds in order; none of these loads
Textual. :mod:`.line_actions` carries out typed lines; :mod:`.screens` and :mod:`.widgets` are
the UI, styled by ``app.tcss``, with lines drawn by :mod:`.drawing`; :mod:`.commands`,
:mod:`.completion`, :mod:`.history` and :mod:`.prefs` are pure helpers the UI uses.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wirechat-client")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0"
