"""Checkout pricing for the shop.

All money is in whole cents (``int``): 1999 means 19.99. Nothing here uses floats for money.
Every function checks its arguments: a wrong type raises ``TypeError``, a value out of range
raises ``ValueError``. (``True`` and ``False`` are not numbers here, even though Python treats
them as ints.)

This file is the *correct* module: your job is to write tests for it in ``test_pricing.py``.
"""

from __future__ import annotations

from typing import Any

# Quantity tiers for bulk_unit_price: (minimum quantity, percent off), tried in this order;
# the first tier whose minimum the quantity reaches wins.
QUANTITY_TIERS = ((50, 10), (10, 5))

COUPON_PREFIX = "SAVE"
MIN_COUPON_PERCENT = 1
MAX_COUPON_PERCENT = 50

DOMESTIC_COUNTRY = "US"
FREE_SHIPPING_THRESHOLD = 5000  # domestic subtotals of 50.00 or more ship free
DOMESTIC_SHIPPING = 499
INTERNATIONAL_SHIPPING = 1999


def _require_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _require_cents(value: Any, name: str) -> int:
    _require_int(value, name)
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def apply_discount(cents: int, percent: int) -> int:
    """``cents`` reduced by ``percent`` percent, rounded to the nearest cent (a half cent rounds up)."""
    _require_cents(cents, "cents")
    _require_int(percent, "percent")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be between 0 and 100, got {percent}")
    return (cents * (100 - percent) + 50) // 100


def bulk_unit_price(unit_cents: int, quantity: int) -> int:
    """The price of one unit when ``quantity`` units are bought: 10+ units 5% off, 50+ units 10% off."""
    _require_cents(unit_cents, "unit_cents")
    _require_int(quantity, "quantity")
    if quantity < 1:
        raise ValueError(f"quantity must be at least 1, got {quantity}")
    for minimum, percent in QUANTITY_TIERS:
        if quantity >= minimum:
            return apply_discount(unit_cents, percent)
    return unit_cents


def parse_coupon(code: str) -> int:
    """The percentage a coupon code is worth: ``"SAVE15"`` is worth 15 (see the README for the rules)."""
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, not {type(code).__name__}")
    normalized = code.strip().upper()
    if not normalized.startswith(COUPON_PREFIX):
        raise ValueError(f"not a coupon code: {code!r}")
    digits = normalized[len(COUPON_PREFIX):]
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"not a coupon code: {code!r}")
    percent = int(digits)
    if not MIN_COUPON_PERCENT <= percent <= MAX_COUPON_PERCENT:
        raise ValueError(f"coupon {code!r} is outside {MIN_COUPON_PERCENT}..{MAX_COUPON_PERCENT} percent")
    return percent


def cart_total(items: list[dict[str, Any]]) -> int:
    """The sum of ``unit_cents * qty`` over the cart's lines (no tiers, coupons or shipping)."""
    if not isinstance(items, list | tuple):
        raise TypeError(f"items must be a list, not {type(items).__name__}")
    total = 0
    for line in items:
        if not isinstance(line, dict):
            raise TypeError(f"each cart line must be a dict, not {type(line).__name__}")
        missing = sorted({"sku", "unit_cents", "qty"} - line.keys())
        if missing:
            raise ValueError(f"cart line {line!r} lacks {', '.join(missing)}")
        if not isinstance(line["sku"], str) or not line["sku"]:
            raise ValueError(f"cart line {line!r} needs a non-empty sku")
        unit_cents = _require_cents(line["unit_cents"], "unit_cents")
        qty = _require_int(line["qty"], "qty")
        if qty < 1:
            raise ValueError(f"qty must be at least 1, got {qty} for {line['sku']!r}")
        total += unit_cents * qty
    return total


def shipping_cents(subtotal_cents: int, country: str) -> int:
    """Shipping for an order: free for domestic subtotals at or above the threshold, else a flat fee."""
    _require_cents(subtotal_cents, "subtotal_cents")
    if not isinstance(country, str):
        raise TypeError(f"country must be a str, not {type(country).__name__}")
    code = country.strip().upper()
    if len(code) != 2 or not (code.isascii() and code.isalpha()):
        raise ValueError(f"country must be a two-letter code like 'US', got {country!r}")
    if subtotal_cents >= FREE_SHIPPING_THRESHOLD and code == DOMESTIC_COUNTRY:
        return 0
    return DOMESTIC_SHIPPING if code == DOMESTIC_COUNTRY else INTERNATIONAL_SHIPPING
