"""Storage: the message log the chat core writes to and reads history from.

:mod:`.log` is the interface, with the promises every backend keeps, and :mod:`.model` its
vocabulary (stored messages, results, errors, conversation keys). :mod:`.sqlite` is the embedded
backend (one SQLite file; its SQL, writer thread and checkpoint thread in the ``sqlite_*``
modules). Another backend is a sibling module implementing :class:`.log.MessageLog`.
"""
