"""A host no name can have is refused; an ASCII one is judged without the IDNA codec, by the
codec's own rule (the codec, with stringprep, was a hundredth of ``aiir validate ONE.yaml``)."""

from __future__ import annotations

import random

import pytest

from aiir.validate.urls import host_can_exist


def _by_codec(host: str) -> bool:
    try:
        host.rstrip(".").encode("idna")
    except UnicodeError:
        return False
    return True


@pytest.mark.parametrize(
    "host",
    ["", ".", "..", "a", "a.", "a..b", ".a", "a.b.", "a" * 63, "a" * 64, f"{'a' * 63}.b",
     f"{'a' * 64}.b", f"b.{'a' * 64}", "127.0.0.1", "gateway.internal", "bücher.example", "a..ü"],
)  # fmt: skip
def test_as_the_codec_says(host: str) -> None:
    assert host_can_exist(host) is _by_codec(host)


def test_random_ascii_names_as_the_codec_says() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        host = "".join(rng.choice("a.-1") for _ in range(rng.randrange(0, 140)))
        host = host.replace("aaaa", "a" * rng.randrange(1, 70))
        assert host_can_exist(host) is _by_codec(host), host
