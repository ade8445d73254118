"""permessage-deflate compressed once per message (gateway/compression.py)."""

from __future__ import annotations

from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)
from websockets.frames import TEXT, Frame

from gateway.compression import CompressedMessages, SharedDeflateFactory


def negotiated(factory: SharedDeflateFactory) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    """A server extension and the matching client one, as a browser would negotiate."""
    client_factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    response, server = factory.process_request_params(client_factory.get_request_params(), [])
    client = client_factory.process_response_params(response, [])
    assert isinstance(client, PerMessageDeflate)
    return server, client


def test_one_message_sent_to_many_clients_is_compressed_once_and_decodes() -> None:
    messages = CompressedMessages()
    factory = SharedDeflateFactory(messages)
    pairs = [negotiated(factory) for _ in range(5)]
    data = b'{"type":"update","data":{"queues":{"billing":{"waiting":3}}}}' * 20
    for server, client in pairs:
        encoded = server.encode(Frame(TEXT, data))
        assert encoded.rsv1 and len(encoded.data) < len(data)
        assert client.decode(encoded).data == data
    assert messages.compressed == 1 and messages.reused == 4
    # each message on its own: a second one decodes without the first's context
    other = data.replace(b"3", b"4")
    for server, client in pairs:
        assert client.decode(server.encode(Frame(TEXT, other))).data == other
    assert messages.compressed == 2


def test_the_cache_keeps_only_the_last_messages() -> None:
    messages = CompressedMessages(size=2)
    server, _ = negotiated(SharedDeflateFactory(messages))
    for i in range(4):
        server.encode(Frame(TEXT, b"message %d" % i))
    assert messages.compressed == 4
    assert sum(len(cache) for cache in messages.by_bits.values()) == 2
