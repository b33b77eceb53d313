"""Transports: what moves a connection's bytes (TCP today; TLS and WebSocket next).

A transport knows nothing of chat. It hands the bytes it reads to a
:class:`~wirechat_server.connection.Connection` through the callbacks of
:class:`~.base.TransportUser`, and the connection writes, pauses and closes it through
:class:`~.base.Transport`. Both interfaces are the subset of asyncio's ``Transport`` and
``Protocol`` that the server uses, so asyncio's (and uvloop's) TCP transport serves as it is, with
nothing between it and the hot path of fan-out. Adding a transport is adding a module here that
implements :class:`~.base.Transport` and feeds a connection; see docs/architecture.md.
"""
