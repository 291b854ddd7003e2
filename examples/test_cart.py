from __future__ import annotations

import pytest
from checkout import Cart

pytestmark = pytest.mark.hawzu("TCM-1")  # every test here reports to "Cart totals"


def test_empty_cart_costs_nothing():
    assert Cart().total() == 0


@pytest.mark.parametrize(("sku", "quantity", "cents"), [("apple", 2, 240), ("melon", 1, 450)])
def test_total(sku, quantity, cents):
    cart = Cart()
    cart.add(sku, quantity)
    assert cart.total() == cents


@pytest.mark.hawzu("TCM-2")
def test_unknown_product_is_refused():
    with pytest.raises(KeyError):
        Cart().add("kiwi")


def test_not_linked_to_a_case():
    # No marker of its own, but the module's marker applies: reported to TCM-1.
    assert Cart().items == {}
