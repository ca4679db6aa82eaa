"""Dates: every form stations write, and never a guess."""
from __future__ import annotations

import datetime as dt

import pytest

from importers.dates import to_date
from importers.values import CellError

D = dt.date(2023, 5, 6)


@pytest.mark.parametrize("value", [
    D, dt.datetime(2023, 5, 6, 14, 30),
    "2023.5.6", "2023.05.06", "2023/05/06", "2023/5/6", "2023-5-6", "2023-05-06",
    "2023年5月6日", "2023年05月06日", "2023年5月6号", "2023 年 5 月 6 日", "20230506",
    "  2023-05-06  ", "2023-05-06 00:00:00", "2023-05-06T08:15", "2023/5/6 8:15",
    "２０２３－０５－０６", "２０２３年５月６日", "２０２３．５．６", "２０２３０５０６",
    45052, 45052.0, 45052.75, "45052", "４５０５２", 20230506, 20230506.0,
])
def test_forms_that_mean_6_may_2023(value):
    assert to_date(value) == D


@pytest.mark.parametrize("value, reason", [
    ("2023-02-30", "不是存在的日期"),
    ("2023年13月1日", "不是存在的日期"),
    ("20230230", "不是存在的日期"),
    (20230230, "不是存在的日期"),
    ("2023-5", "不是可识别的日期"),
    ("2023年5月", "不是可识别的日期"),
    ("123.5.6", "不是可识别的日期"),  # 23.5.6 is a short date: see test_date_order.py
    ("5/6/2023", "顺序无法判断"),  # read by the file's order (importers/dateorder.py), never alone
    ("2023.5-6", "不是可识别的日期"),
    ("明年五月", "不是可识别的日期"),
    ("长期", "不是可识别的日期"),
    ("2023", "不是可识别的日期"),
    (2023, "不是可识别的日期"),  # a year, not serial 2023 (1905)
    (12, "不是可识别的日期"),
    ("12345", "不是可识别的日期"),  # serial of 1933: outside the plausible years
    (99999, "不是可识别的日期"),
    ("1899-12-31", "超出合理的年份范围"),
    (dt.date(1900, 1, 1), "超出合理的年份范围"),
    ("2230-01-01", "超出合理的年份范围"),
    (True, "不是日期"),
    (dt.time(8, 0), "不是日期"),
])
def test_anything_else_is_an_error(value, reason):
    with pytest.raises(CellError) as caught:
        to_date(value)
    assert reason in caught.value.reason


def test_an_error_is_raised_again_for_the_same_text():
    """The parse cache must not turn a second bad value into a date."""
    for _ in range(2):
        with pytest.raises(CellError):
            to_date("2023-02-30")


def test_leap_day():
    assert to_date("2024-2-29") == dt.date(2024, 2, 29)
    with pytest.raises(CellError):
        to_date("2023-2-29")
