from __future__ import annotations

import pytest
from checkout import refund


@pytest.mark.hawzu("TCM-8")
def test_full_refund():
    assert refund(1000, 1000) == 0


@pytest.mark.hawzu("TCM-9")
@pytest.mark.parametrize("amount", [100, 250])
def test_partial_refund(amount):
    assert refund(1000, amount) == 1000 - amount


@pytest.mark.hawzu("TCM-10")
def test_refund_more_than_paid_is_refused():
    with pytest.raises(ValueError, match="more than was paid"):
        refund(100, 200)
