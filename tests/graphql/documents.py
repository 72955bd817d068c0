"""Hostile GraphQL documents shared by the in-process and the real-server tests."""

from __future__ import annotations


def fragment_bomb(levels: int = 10, fan: int = 10) -> str:
    """F(k) spreads F(k-1) `fan` times: about 1 KB, fan**(levels-1) spreads expanded."""
    parts = [f'{{ resource(id: "x") {{ ...F{levels - 1} }} }}', "fragment F0 on Resource { id }"]
    parts += [
        f"fragment F{i} on Resource {{ {' '.join([f'...F{i - 1}'] * fan)} }}"
        for i in range(1, levels)
    ]
    return "\n".join(parts)


def fragment_chain(length: int) -> str:
    parts = [f'{{ resource(id: "x") {{ ...F{length - 1} }} }}', "fragment F0 on Resource { id }"]
    parts += [f"fragment F{i} on Resource {{ ...F{i - 1} }}" for i in range(1, length)]
    return "\n".join(parts)
