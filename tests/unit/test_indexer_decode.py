"""The indexer's hand decoder of simple static ABI words agrees with eth_abi, and defers to it otherwise."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from hypothesis import given
from hypothesis import strategies as st

from ledger.indexer import _NOT_STATIC, _static_word_json, _to_json

UINTS = [f"uint{n}" for n in range(8, 257, 8)]
BYTES = [f"bytes{n}" for n in range(1, 33)]


def _value(abi_type: str) -> st.SearchStrategy[object]:
    if abi_type == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if abi_type == "bool":
        return st.booleans()
    if abi_type.startswith("uint"):
        return st.integers(0, 2 ** int(abi_type[4:]) - 1)
    return st.binary(min_size=int(abi_type[5:]), max_size=int(abi_type[5:]))


@given(st.sampled_from(["address", "bool", *UINTS, *BYTES]).flatmap(lambda t: st.tuples(st.just(t), _value(t))))
def test_canonical_words_decode_like_eth_abi(case: tuple[str, object]) -> None:
    abi_type, value = case
    word = encode([abi_type], [value])
    fast = _static_word_json(abi_type, word)
    assert fast is not _NOT_STATIC
    assert fast == _to_json(abi_type, decode([abi_type], word)[0])


@given(st.sampled_from(["address", "bool", *UINTS, *BYTES]), st.binary(min_size=32, max_size=32))
def test_any_word_is_either_decoded_like_eth_abi_or_left_to_it(abi_type: str, word: bytes) -> None:
    fast = _static_word_json(abi_type, word)
    try:
        expected = _to_json(abi_type, decode([abi_type], word)[0])
    except Exception:  # noqa: BLE001 - eth_abi refuses it (padding): the fast path must not accept it
        assert fast is _NOT_STATIC
        return
    assert fast is _NOT_STATIC or fast == expected


@pytest.mark.parametrize("abi_type", ["int256", "string", "bytes", "uint256[]", "(uint256,address)"])
def test_other_types_are_left_to_eth_abi(abi_type: str) -> None:
    assert _static_word_json(abi_type, bytes(32)) is _NOT_STATIC
