"""A tiny checkout service: the code under test in the demo suite."""

from __future__ import annotations

from dataclasses import dataclass, field

PRICES = {"apple": 120, "pear": 95, "melon": 450}
RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.86}


@dataclass
class Cart:
    items: dict[str, int] = field(default_factory=dict)

    def add(self, sku: str, quantity: int = 1) -> None:
        if sku not in PRICES:
            raise KeyError(f"unknown product {sku!r}")
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        self.items[sku] = self.items.get(sku, 0) + quantity

    def total(self) -> int:
        return sum(PRICES[sku] * n for sku, n in self.items.items())


def convert(cents: int, currency: str) -> int:
    return round(cents * RATES[currency])


def refund(paid: int, amount: int) -> int:
    if amount > paid:
        raise ValueError("cannot refund more than was paid")
    # A known bug, kept on purpose so the demo shows a failed result:
    # partial refunds forget the last cent.
    return paid - amount if amount == paid else paid - amount - 1
