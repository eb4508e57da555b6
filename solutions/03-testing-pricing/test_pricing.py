"""Tests for pricing.py: every rule of the statement, its boundaries, and its errors."""

import pytest
from pricing import apply_discount, bulk_unit_price, cart_total, parse_coupon, shipping_cents

# ---------------------------------------------------------------- apply_discount


@pytest.mark.parametrize(
    ("cents", "percent", "expected"),
    [
        (1000, 0, 1000),
        (1000, 10, 900),
        (1999, 15, 1699),
        (2000, 100, 0),
        (0, 30, 0),
    ],
)
def test_apply_discount(cents, percent, expected):
    assert apply_discount(cents, percent) == expected


def test_apply_discount_rounds_half_cents_up():
    # 5 cents minus 10% is 4.5 cents: half up gives 5, round() would give 4.
    assert apply_discount(5, 10) == 5
    assert apply_discount(1005, 50) == 503


def test_apply_discount_rounds_to_nearest_cent():
    assert apply_discount(999, 33) == 669  # 669.33
    assert apply_discount(1001, 25) == 751  # 750.75


@pytest.mark.parametrize("percent", [-1, 101, 150])
def test_apply_discount_rejects_percent_out_of_range(percent):
    with pytest.raises(ValueError):
        apply_discount(1000, percent)


def test_apply_discount_rejects_negative_cents():
    with pytest.raises(ValueError):
        apply_discount(-1, 10)


@pytest.mark.parametrize(("cents", "percent"), [(10.5, 10), ("1000", 10), (1000, 12.5), (1000, True)])
def test_apply_discount_rejects_wrong_types(cents, percent):
    with pytest.raises(TypeError):
        apply_discount(cents, percent)


# ---------------------------------------------------------------- bulk_unit_price


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(1, 1000), (9, 1000), (10, 950), (49, 950), (50, 900), (200, 900)],
)
def test_bulk_unit_price_tiers(quantity, expected):
    assert bulk_unit_price(1000, quantity) == expected


def test_bulk_unit_price_rounds_like_apply_discount():
    assert bulk_unit_price(1999, 20) == 1899  # 1899.05
    assert bulk_unit_price(1970, 20) == 1872  # 1871.5: half a cent rounds up


@pytest.mark.parametrize("quantity", [0, -3])
def test_bulk_unit_price_rejects_quantity_below_one(quantity):
    with pytest.raises(ValueError):
        bulk_unit_price(1000, quantity)


def test_bulk_unit_price_rejects_a_negative_unit_price():
    with pytest.raises(ValueError):
        bulk_unit_price(-1, 5)


def test_bulk_unit_price_rejects_wrong_types():
    with pytest.raises(TypeError):
        bulk_unit_price(1000, 2.0)
    with pytest.raises(TypeError):
        bulk_unit_price("1000", 2)


# ---------------------------------------------------------------- parse_coupon


@pytest.mark.parametrize(("code", "expected"), [("SAVE15", 15), ("SAVE1", 1), ("SAVE50", 50), ("SAVE05", 5)])
def test_parse_coupon(code, expected):
    assert parse_coupon(code) == expected


@pytest.mark.parametrize("code", ["save15", "Save15", "sAvE20"])
def test_parse_coupon_ignores_case(code):
    assert parse_coupon(code) == int(code[4:])


def test_parse_coupon_ignores_surrounding_whitespace():
    assert parse_coupon("  SAVE20\n") == 20


@pytest.mark.parametrize("code", ["SAVE0", "SAVE51", "SAVE90", "SAVE100"])
def test_parse_coupon_rejects_percent_out_of_range(code):
    with pytest.raises(ValueError):
        parse_coupon(code)


@pytest.mark.parametrize("code", ["", "SAVE", "15", "SAVE-5", "SAVE+5", "SAVE 15", "SAVE1.5", "OFF15", "XSAVE15", "SAVE15%"])
def test_parse_coupon_rejects_malformed_codes(code):
    with pytest.raises(ValueError):
        parse_coupon(code)


def test_parse_coupon_rejects_non_strings():
    with pytest.raises(TypeError):
        parse_coupon(15)


# ---------------------------------------------------------------- cart_total


def test_cart_total_sums_lines():
    items = [
        {"sku": "mug", "unit_cents": 1250, "qty": 2},
        {"sku": "tea", "unit_cents": 499, "qty": 1},
        {"sku": "pen", "unit_cents": 120, "qty": 12},
    ]
    assert cart_total(items) == 2500 + 499 + 1440


def test_cart_total_accepts_a_tuple_of_lines():
    items = ({"sku": "mug", "unit_cents": 1250, "qty": 2}, {"sku": "tea", "unit_cents": 499, "qty": 1})
    assert cart_total(items) == 2999


def test_cart_total_of_empty_cart_is_zero():
    assert cart_total([]) == 0


def test_cart_total_applies_no_quantity_tiers():
    assert cart_total([{"sku": "pen", "unit_cents": 100, "qty": 50}]) == 5000


@pytest.mark.parametrize(
    "line",
    [
        {"sku": "mug", "unit_cents": 1250, "qty": 0},
        {"sku": "mug", "unit_cents": 1250, "qty": -1},
        {"sku": "mug", "unit_cents": -5, "qty": 1},
        {"sku": "", "unit_cents": 1250, "qty": 1},
        {"sku": "mug", "unit_cents": 1250},
        {"unit_cents": 1250, "qty": 1},
    ],
)
def test_cart_total_rejects_invalid_lines(line):
    with pytest.raises(ValueError):
        cart_total([{"sku": "tea", "unit_cents": 499, "qty": 1}, line])


@pytest.mark.parametrize(
    "items",
    [
        "mug",
        [("mug", 1250, 1)],
        [{"sku": "mug", "unit_cents": 12.5, "qty": 1}],
        [{"sku": "mug", "unit_cents": 1250, "qty": 1.0}],
    ],
)
def test_cart_total_rejects_wrong_types(items):
    with pytest.raises(TypeError):
        cart_total(items)


# ---------------------------------------------------------------- shipping_cents


@pytest.mark.parametrize(
    ("subtotal", "country", "expected"),
    [
        (0, "US", 499),
        (4999, "US", 499),
        (5000, "US", 0),
        (12000, "US", 0),
        (1000, "DE", 1999),
        (5000, "DE", 1999),
        (50000, "FR", 1999),
    ],
)
def test_shipping_cents(subtotal, country, expected):
    assert shipping_cents(subtotal, country) == expected


def test_shipping_country_is_case_insensitive_and_trimmed():
    assert shipping_cents(6000, " us ") == 0
    assert shipping_cents(100, "de") == 1999


@pytest.mark.parametrize("country", ["", "USA", "U", "1A", "U S"])
def test_shipping_rejects_bad_country_codes(country):
    with pytest.raises(ValueError):
        shipping_cents(1000, country)


def test_shipping_rejects_bad_subtotals():
    with pytest.raises(ValueError):
        shipping_cents(-1, "US")
    with pytest.raises(TypeError):
        shipping_cents(49.99, "US")
    with pytest.raises(TypeError):
        shipping_cents(1000, None)
    with pytest.raises(TypeError):
        shipping_cents(1000, 1)
