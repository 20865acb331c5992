"""KeySet / KeyMap behave like set / dict of 64-bit keys across merges of their recent keys."""

from __future__ import annotations

import random

import pytest

from storage import keyset
from storage.keyset import KeyMap, KeySet


@pytest.fixture(autouse=True)
def small_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyset, "MERGE_AT", 7)  # many merges with few keys


def test_keyset_matches_a_python_set() -> None:
    rng = random.Random(5)
    keys = [rng.getrandbits(64) for _ in range(300)] + [0, (1 << 64) - 1]
    start = keys[:50]
    s, ref = KeySet(start), set(start)
    for k in keys[50:] + keys[:80]:  # repeats included
        s.add(k)
        ref.add(k)
        assert k in s
        assert len(s) == len(ref)
    assert sorted(s) == sorted(ref)
    others = [rng.getrandbits(64) for _ in range(200)]
    assert [k in s for k in others] == [k in ref for k in others]
    assert -1 not in s and (1 << 64) not in s and "x" not in s


def test_keymap_matches_a_python_dict() -> None:
    rng = random.Random(6)
    ref: dict[int, int] = {rng.getrandbits(64): rng.getrandbits(64) for _ in range(40)}
    m = KeyMap(ref.items())
    keys = list(ref)
    for _ in range(500):
        k = rng.choice(keys) if rng.random() < 0.4 else rng.getrandbits(64)
        keys.append(k)
        v = rng.getrandbits(64)
        m[k] = v
        ref[k] = v
        assert m[k] == v
    assert len(m) == len(ref)
    assert dict(m.items()) == ref
    missing = rng.getrandbits(64)
    assert m.get(missing) is None and missing not in m
    with pytest.raises(KeyError):
        m[missing]
    assert m.get(0, 5) == ref.get(0, 5)


def test_out_of_range_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        KeySet().add(-1)
    with pytest.raises(ValueError):
        KeyMap()[1 << 64] = 1
