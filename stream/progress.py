"""The worker's counters in Redis: one field per source partition, ``processed,dead``
(valid events applied, inputs dead-lettered), written by the partition's owner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def encode_progress(progress: Mapping[int, tuple[int, int]]) -> dict[str, str]:
    return {str(p): f"{processed},{dead}" for p, (processed, dead) in progress.items()}


def progress_totals(values: Iterable[bytes | str]) -> dict[str, int]:
    """``{"processed": N, "dead_letters": N}`` summed over the partitions' fields."""
    processed = dead = 0
    for value in values:
        a, b = (value.decode() if isinstance(value, bytes) else value).split(",")
        processed, dead = processed + int(a), dead + int(b)
    return {"processed": processed, "dead_letters": dead}


def totals_with(stored: Mapping[bytes | str, bytes | str],
                progress: Mapping[int, tuple[int, int]]) -> dict[str, int]:
    """:func:`progress_totals` of the ``stored`` fields (as read from Redis) with the
    partitions of ``progress`` as it has them (not written yet)."""
    fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in stored.items()}
    fields.update(encode_progress(progress))
    return progress_totals(fields.values())
