"""What the consistency checks (`prakerja ledger check`) share."""

from typing import Any


def breaches(rows: Any, field: str, text: str, examples: int = 20) -> list[str]:
    """The first few rows breaking a rule, named, and how many there are. Counted first: without a LIMIT the
    planner joins millions of rows by hash rather than probing an index per row in search of a first one."""
    count = rows.count()
    if not count:
        return []
    named = [text.format(value) for value in rows.values_list(field, flat=True)[:examples]]
    return named + ([f"… {count - examples:,} more like these"] if count > examples else [])
