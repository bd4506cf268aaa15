"""Pure payout rules: instalment dates, what a provider's report does, settlement lines, signatures."""

from datetime import date

import pytest

from prakerja.payments import rules


def test_instalments_fall_a_calendar_month_apart_on_the_last_day_when_shorter() -> None:
    assert rules.instalment_dates(date(2026, 1, 31), 4) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert rules.add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


@pytest.mark.parametrize(
    ("current", "reported", "expected"),  # (final state, passes through paid, failed, returned)
    [
        ("sent", "paid", ("paid", True, False, False)),
        ("sent", "failed", ("failed", False, True, False)),
        ("sent", "returned", ("returned", True, False, True)),  # the return overtook its payment: both
        ("paid", "returned", ("returned", False, False, True)),
        ("paid", "paid", ("paid", False, False, False)),  # old news: stays
        ("returned", "paid", ("returned", False, False, False)),  # older news
        ("paid", "failed", None),  # contradicts: never backwards
        ("failed", "returned", None),  # the provider cannot return what it never paid
        ("failed", "paid", None),
        ("pending", "paid", None),  # never handed over
    ],
)
def test_a_report_moves_a_payment_only_forward(current: str, reported: str, expected: object) -> None:
    table = {(now, news): tuple(rest) for now, news, *rest in rules.transitions()}
    assert table.get((current, reported)) == expected


def test_settlement_lines_are_parsed_or_explained() -> None:
    line = rules.settlement_line(["P1-1", "R1", "600000", "paid", "2026-11-25T10:00:00+07:00"])
    assert isinstance(line, rules.SettlementLine) and line.amount == 600_000
    assert "fields" in str(rules.settlement_line(["P1-1", "R1"]))
    assert "positive whole number" in str(rules.settlement_line(["P1-1", "R", "6e5", "paid", "x"]))
    assert "one of" in str(rules.settlement_line(["P1-1", "R", "5", "lost", "2026-11-25T10:00:00+07:00"]))
    assert "time zone" in str(rules.settlement_line(["P1-1", "R", "5", "paid", "2026-11-25T10:00:00"]))


def test_a_callback_signature_binds_body_time_and_provider() -> None:
    key = rules.provider_key("secret", "ovo")
    signature = rules.callback_signature(key, 1_000, b"{}")
    assert rules.callback_problem(key, "1000", signature, b"{}", now=1_100, tolerance=300) == ""
    assert rules.callback_problem(key, "1000", signature, b"{ }", now=1_100, tolerance=300)
    assert (
        rules.callback_problem(key, "1000", signature, b"{}", now=2_000, tolerance=300) == "stale timestamp"
    )
    other = rules.provider_key("secret", "dana")
    assert rules.callback_problem(other, "1000", signature, b"{}", now=1_100, tolerance=300)
    assert rules.callback_problem(key, "", "", b"{}", now=1_100, tolerance=300) == "unsigned"


def test_account_numbers_are_checked_for_their_provider() -> None:
    assert rules.account_number_problem("bni", "0123456789") == ""
    assert rules.account_number_problem("bni", "012345678") == "bank_length"
    assert rules.account_number_problem("ovo", "081234567890") == ""
    assert rules.account_number_problem("ovo", "0123456789") == "wallet_phone"
    assert rules.account_number_problem("dana", "0812-3456") == "digits"


def test_settlement_files_are_read_line_by_line_with_quotes_where_needed() -> None:
    text = 'payment_key,reference\r\nP1-1,R1\r\n\r\nP2-1,"R2, second part"\r\nP3-1,"unclosed\r\n'
    assert list(rules.settlement_fields(text)) == [
        (1, ["payment_key", "reference"]),
        (2, ["P1-1", "R1"]),
        (4, ["P2-1", "R2, second part"]),
        (5, ["P3-1", "unclosed"]),
    ]
