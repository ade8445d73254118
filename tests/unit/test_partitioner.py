"""Kafka's default partitioner (stream/partitioner.py): the same partitions as the Java
client and kafka-python, for any key. The producers key events by contact or agent, so a
difference would send a repeat signal to a partition that does not hold its contact."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from stream.partitioner import murmur2, partition_for


@pytest.mark.parametrize(("key", "partition"), [
    (b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566),
    (b"\x00 ", 742),
])
def test_keys_land_on_the_java_clients_partitions(key: bytes, partition: int) -> None:
    # The Java client's partitions of these keys among 1,000 (kafka-python's own test).
    assert partition_for(key, 1000) == partition


@given(st.binary(max_size=300))
@hyp_settings(max_examples=2000, deadline=None)
def test_murmur2_equals_kafka_pythons_for_any_bytes(data: bytes) -> None:
    assert murmur2(data) == kafka_python_murmur2(data)


@given(st.binary(min_size=1, max_size=80), st.integers(1, 512))
@hyp_settings(max_examples=500, deadline=None)
def test_the_partition_is_kafka_pythons_and_in_range(key: bytes, partitions: int) -> None:
    got = partition_for(key, partitions)
    assert got == (kafka_python_murmur2(key) & 0x7FFFFFFF) % partitions
    assert 0 <= got < partitions


def test_keys_of_every_length_mod_four_and_bytes_above_127_hash_as_kafka_pythons() -> None:
    for length in range(0, 12):
        for fill in (0x00, 0x7F, 0x80, 0xFF):
            data = bytes([fill]) * length
            assert murmur2(data) == kafka_python_murmur2(data), (length, fill)
