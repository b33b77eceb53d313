"""Everything the tests share, in one place.

- :mod:`.net`: a real server on an ephemeral port (``running_server``), raw-socket clients of
  each dialect (``NativeClient``, ``PlainClient``, ``NonReader``, ``Listener``), ``eventually``.
- :mod:`.rooms`: ``Chat``, a native client with request/answer helpers for rooms, history and
  direct messages, and ``serving``.
- :mod:`.dialects`: ``Speaker``, one user speaking any dialect, for the contract suite.
- :mod:`.stores`, :mod:`.store_child`, :mod:`.disks`: the message store opened directly, a child
  process to kill, and real full disks.
- :mod:`.hand_loop`: a scheduler whose turns the test runs by hand (socket-free tests).
- :mod:`.process`: ``chat-server`` as a separate process.
- :mod:`.app`: driving the Textual client with Pilot.
- :mod:`.imports`: what importing a module loads, checked in a fresh interpreter.
- :mod:`.cases`: tables of protocol cases run by several modules (error codes, invalid names).

The tests themselves are grouped by kind: ``common/`` and ``server/unit/`` are socket-free;
``server/functional/`` and ``client/`` drive real sockets (and the real app); ``e2e/`` runs
whole programs.
"""
