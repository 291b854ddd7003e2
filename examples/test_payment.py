from __future__ import annotations

import sys

import pytest
from checkout import convert


@pytest.mark.hawzu("TCM-3")
class TestCurrencies:
    @pytest.mark.parametrize(
        "currency",
        ["EUR", "USD", pytest.param("GBP", marks=pytest.mark.hawzu("TCM-4"))],
    )
    def test_convert(self, currency):
        assert convert(1000, currency) > 0


@pytest.mark.hawzu("TCM-5")
def test_charge_saved_card(payment_gateway):
    pass


@pytest.mark.hawzu("TCM-6")
@pytest.mark.skipif(sys.platform != "win32", reason="Windows-only receipt printer")
def test_print_receipt():
    pass


@pytest.mark.hawzu("TCM-7")
@pytest.mark.xfail(reason="3-D Secure is not implemented yet (CHK-88)")
def test_three_d_secure():
    raise NotImplementedError
