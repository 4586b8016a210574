"""Server-side timing of a call, as the server reports it.

Definitions (the same as the HTTP endpoint's ``x-queue-time`` / ``x-compute-time`` /
``x-total-time`` headers), all in milliseconds:

- queue: from the call being admitted (EmbedStream: the message being read) until its
  work starts on an encoding thread, i.e. waiting for a thread;
- compute: on the encoding thread: parsing, UTF-8 decoding, tokenization, pooling,
  packing and building the response message;
- total (unary only): from the handler starting until the response is ready to send.

Unary Embed and Tokenize send them as trailing metadata (:data:`QUEUE_MS_KEY`,
:data:`COMPUTE_MS_KEY`, :data:`TOTAL_MS_KEY`, decimal strings); each EmbedStream response
carries the ``Timing`` message (queue and compute of that message).  Only successful unary
calls carry the trailers; every stream response carries ``Timing``.  The Python clients
(``EmbedClient``, ``AsyncEmbedClient``) return vectors only and do not surface them; read
them with a generated stub (``call.trailing_metadata()``, ``response.timing``).
"""

from __future__ import annotations

QUEUE_MS_KEY = "m2v-queue-ms"
"""Trailing metadata key: milliseconds between admission and the work starting on a thread."""
COMPUTE_MS_KEY = "m2v-compute-ms"
"""Trailing metadata key: milliseconds of work on the encoding thread."""
TOTAL_MS_KEY = "m2v-total-ms"
"""Trailing metadata key: milliseconds from the handler starting to the response being ready."""


def trailers(queue_s: float, compute_s: float, total_s: float) -> tuple[tuple[str, str], ...]:
    """The timing trailing metadata of a unary call (arguments in seconds)."""
    return (
        (QUEUE_MS_KEY, f"{queue_s * 1000:.3f}"),
        (COMPUTE_MS_KEY, f"{compute_s * 1000:.3f}"),
        (TOTAL_MS_KEY, f"{total_s * 1000:.3f}"),
    )
