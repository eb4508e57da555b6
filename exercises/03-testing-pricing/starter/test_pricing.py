"""Tests for pricing.py. Run them with `runner test` (or `python -m pytest test_pricing.py`).

Import and call only the five functions below: while your tests are graded, pricing.py is replaced
by a stand-in that has exactly these functions and nothing else (no constants, no helpers).
"""

import pytest

from pricing import apply_discount, bulk_unit_price, cart_total, parse_coupon, shipping_cents


def test_apply_discount_takes_ten_percent_off():
    assert apply_discount(1000, 10) == 900


# TODO: apply_discount: the edges of the percent range, rounding to the cent, invalid arguments
#       (hint: `with pytest.raises(ValueError):` checks that a call raises).
def test_apply_discount_rejects_a_negative_percent():
    with pytest.raises(ValueError):
        apply_discount(1000, -5)


# TODO: bulk_unit_price: each quantity tier, exactly at and just below where it starts; invalid quantities.
def test_bulk_unit_price_without_a_tier():
    assert bulk_unit_price(250, 3) == 250


# TODO: parse_coupon: valid codes, how they may be written, and the codes that are not valid.
def test_parse_coupon_reads_the_percentage():
    assert parse_coupon("SAVE15") == 15


# TODO: cart_total: several lines, the empty cart, and every kind of invalid line.
def test_cart_total_of_one_line():
    assert cart_total([{"sku": "mug", "unit_cents": 1250, "qty": 2}]) == 2500


# TODO: shipping_cents: domestic below, at and above the threshold; other countries; invalid input.
def test_shipping_for_a_small_domestic_order():
    assert shipping_cents(1200, "US") == 499
