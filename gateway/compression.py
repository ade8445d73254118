"""permessage-deflate compressed once per message, not once per client.

With context takeover (the WebSocket default) each connection compresses against its own
history, so an update sent to 1,000 clients is compressed 1,000 times. The gateway asks
instead for ``server_no_context_takeover``: every message is then compressed on its own,
and the same message with the same window size compresses to the same bytes for every
client. :class:`SharedDeflate` keeps the last compressed messages (keyed by the message
bytes, which the gateway builds once per subscription, so a lookup is an identity hit) and
compresses a message only the first time a client sends it. What clients receive is plain
permessage-deflate (RFC 7692); browsers accept ``server_no_context_takeover``.
"""

from __future__ import annotations

from collections.abc import Sequence

from websockets.extensions.base import Extension, ServerExtensionFactory
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import BINARY, TEXT, Frame
from websockets.typing import ExtensionParameter

CACHED_MESSAGES = 64  # per window size; an update is sent to all its clients within ~1 s
WINDOW_BITS = 15
CLIENT_WINDOW_BITS = 12  # the clients' compression, for what they send (small)
COMPRESS_SETTINGS = {"memLevel": 8}


class CompressedMessages:
    """The compressed payloads of the last messages, per window size (shared)."""

    def __init__(self, size: int = CACHED_MESSAGES) -> None:
        self.size = size
        self.by_bits: dict[int, dict[bytes, Frame]] = {}
        self.compressed = 0  # messages compressed
        self.reused = 0  # sends that took a compressed message from here

    def get(self, bits: int, data: bytes) -> Frame | None:
        frame = self.by_bits.get(bits, {}).get(data)
        if frame is not None:
            self.reused += 1
        return frame

    def put(self, bits: int, data: bytes, frame: Frame) -> None:
        cache = self.by_bits.setdefault(bits, {})
        if len(cache) >= self.size:
            del cache[next(iter(cache))]  # the oldest
        cache[data] = frame
        self.compressed += 1


class SharedDeflate(PerMessageDeflate):
    """permessage-deflate whose unfragmented data frames come from :class:`CompressedMessages`
    when the connection compresses each message on its own."""

    def __init__(self, base: PerMessageDeflate, messages: CompressedMessages,
                 compress_settings: dict[str, int]) -> None:
        super().__init__(base.remote_no_context_takeover, base.local_no_context_takeover,
                         base.remote_max_window_bits, base.local_max_window_bits,
                         compress_settings)
        self.messages = messages

    def encode(self, frame: Frame) -> Frame:
        if (not self.local_no_context_takeover or not frame.fin
                or frame.opcode not in (TEXT, BINARY) or type(frame.data) is not bytes):
            return super().encode(frame)
        data: bytes = frame.data
        bits = self.local_max_window_bits
        compressed = self.messages.get(bits, data)
        if compressed is None:
            compressed = super().encode(frame)
            self.messages.put(bits, data, compressed)
        elif compressed.opcode is not frame.opcode:
            return super().encode(frame)
        return compressed


class SharedDeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates permessage-deflate with ``server_no_context_takeover``; the connections'
    extensions share one :class:`CompressedMessages`."""

    def __init__(self, messages: CompressedMessages | None = None) -> None:
        super().__init__(server_no_context_takeover=True,
                         server_max_window_bits=WINDOW_BITS,
                         client_max_window_bits=CLIENT_WINDOW_BITS,
                         compress_settings=dict(COMPRESS_SETTINGS))
        self.messages = messages if messages is not None else CompressedMessages()

    def process_request_params(
        self, params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, extension = super().process_request_params(params, accepted_extensions)
        return response, SharedDeflate(extension, self.messages, dict(COMPRESS_SETTINGS))


def extensions(messages: CompressedMessages | None = None) -> list[ServerExtensionFactory]:
    """The server's extensions: shared permessage-deflate."""
    return [SharedDeflateFactory(messages)]
