"""Protocol-wide constants: the version and the default limits both ends agree on.

Servers may be configured with other limits (the server announces its own in ``welcome``); these are
the defaults and the numbers a client can rely on when it has not been told otherwise.
"""

from __future__ import annotations

from typing import Final

#: Version of the wire protocol described in ``docs/protocol.md``. A server refuses a ``hello``
#: whose ``version`` differs, so that incompatible peers fail loudly at the door instead of
#: misreading each other later.
PROTOCOL_VERSION: Final = 1

#: Largest message text, in bytes of UTF-8. Large enough for a pasted stack trace or a short
#: config file (Ergo's multiline limit is the same), small enough that a room of 1,000 people
#: costs at most a few MiB per message. Longer text is refused, never truncated: truncation
#: silently loses what the sender wrote.
MAX_TEXT_BYTES: Final = 4096

#: Largest native frame, in bytes, not counting the line terminator. JSON escaping can double
#: 4 KiB of text (every ``"`` becomes ``\\"``) and control escapes are six bytes each, so 16 KiB
#: leaves room for the envelope while still bounding what a peer can make us buffer.
MAX_FRAME_BYTES: Final = 16 * 1024

#: Largest frame a client should accept from a server. Server frames are bounded by what the
#: server builds, not by what a peer sends; the largest is a ``welcome`` or ``users`` listing
#: everyone present (about 35 bytes a user), or a ``history`` page of :data:`MAX_HISTORY`
#: messages of the largest size with every character escaped (about 1.7 MB); 4 MiB covers both
#: with room to spare.
MAX_SERVER_FRAME_BYTES: Final = 4 * 1024 * 1024

#: Longest name, in characters (all ASCII, so also bytes). Generous next to IRC's 9-30 and
#: short enough to fit a user list column.
MAX_NAME_LENGTH: Final = 32

#: Longest room name, in characters, ``#`` included.
MAX_ROOM_LENGTH: Final = MAX_NAME_LENGTH + 1

#: The room every user is in after registering, unless it asks for others (see ``hello``).
DEFAULT_ROOM: Final = "#lobby"

#: Longest room topic, in bytes of UTF-8 (text rules apply): a line, not a document.
MAX_TOPIC_BYTES: Final = 512

#: Most messages one ``history`` page may hold. A server may announce a smaller limit in
#: ``welcome``; a request above the server's limit is refused (``history_window_too_large``).
MAX_HISTORY: Final = 200

#: Longest opaque token (``client_id``, ping tokens): room for a UUID or a ULID and a prefix.
MAX_TOKEN_LENGTH: Final = 64

#: Deepest nesting of JSON arrays and objects accepted in a frame. No wirechat frame nests more
#: than 2 levels; 32 leaves room for extensions in unknown fields, and an explicit limit keeps the
#: outcome independent of the parser's recursion limit (about 1,000 levels, stack permitting).
MAX_NESTING_DEPTH: Final = 32
