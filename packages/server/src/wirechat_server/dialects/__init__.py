"""Dialects: the languages a client may speak to the server, each a sans-I/O translator.

A dialect turns the bytes a client sends into chat requests (the native protocol's request
messages: ``say``, ``join``, ``hello``...) and renders chat events as the bytes that client reads.
It has no socket, no timer and no clock of its own; the
:class:`~wirechat_server.connection.Connection` that owns it does the I/O, the rate limit and the
output bounds, and hands the requests to the chat core. Every dialect has the shape of
:class:`.base.Dialect`; which one a connection speaks is decided from its first bytes by the
table in :mod:`.detect`. Adding a dialect is adding a module here and a row to that table
(docs/architecture.md).
"""
