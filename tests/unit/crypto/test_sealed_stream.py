import io

import pytest

from haven.crypto.keys import KeyPair
from haven.crypto.sealed_stream import (
    CAPACITY,
    MESSAGE_BYTES,
    NotASealedStream,
    SealedStreamWriter,
    StreamAltered,
    WrongKey,
    read_sealed_stream,
)

MAGIC = b"TESTMAGC"
MESSAGES = [b"first", b"", b"x" * CAPACITY, "второе".encode()]


def sealed(keys: KeyPair, messages: list[bytes] = MESSAGES) -> bytes:
    out = io.BytesIO()
    writer = SealedStreamWriter(out, public_key=keys.public, magic=MAGIC)
    for message in messages:
        writer.write(message)
    writer.close()
    return out.getvalue()


def opened(data: bytes, private_key: bytes) -> list[bytes]:
    return list(read_sealed_stream(io.BytesIO(data), private_key=private_key, magic=MAGIC))


def test_a_stream_opens_with_the_private_key_in_order() -> None:
    keys = KeyPair.generate()
    assert opened(sealed(keys), keys.private) == MESSAGES


def test_every_message_takes_the_same_room_whatever_it_holds() -> None:
    keys = KeyPair.generate()
    assert len(sealed(keys, [b"a"])) == len(sealed(keys, [b"b" * CAPACITY]))
    assert len(sealed(keys, [b"a", b"b"])) - len(sealed(keys, [b"a"])) > MESSAGE_BYTES


def test_another_private_key_opens_nothing() -> None:
    keys, stranger = KeyPair.generate(), KeyPair.generate()
    with pytest.raises(WrongKey):
        opened(sealed(keys), stranger.private)


@pytest.mark.parametrize(
    "alter",
    [
        lambda b: b[:-1],  # cut short
        lambda b: b + b"\0",  # extended
        lambda b: b[:200] + bytes([b[200] ^ 1]) + b[201:],  # a bit flipped in a message
        lambda b: b[:8] + bytes([b[8]]) + bytes([b[9] ^ 1]) + b[10:],  # a bit flipped in the sealed key
    ],
    ids=["truncated", "extended", "flipped in a message", "flipped in the header"],
)
def test_an_altered_stream_does_not_open(alter: object) -> None:
    keys = KeyPair.generate()
    with pytest.raises((StreamAltered, WrongKey)):
        opened(alter(sealed(keys)), keys.private)  # type: ignore[operator]


def test_a_stream_without_its_final_message_does_not_open() -> None:
    keys = KeyPair.generate()
    out = io.BytesIO()
    SealedStreamWriter(out, public_key=keys.public, magic=MAGIC).write(b"never closed")
    with pytest.raises(StreamAltered):
        opened(out.getvalue(), keys.private)


def test_another_format_is_told_apart() -> None:
    keys = KeyPair.generate()
    with pytest.raises(NotASealedStream):
        opened(b"SQLite format 3\0" + bytes(200), keys.private)
