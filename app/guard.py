"""The one guard over request input: control characters and out-of-range numbers are refused before any view.

A NUL byte reaches PostgreSQL as an error ("text fields cannot contain NUL") and a number past the 32-bit
range of the id columns as "integer out of range": both used to answer 500 on dozens of pages. Every
query string, form field and uploaded file name passes through `check_request` first and is refused
with a Chinese 400 page instead. Multi-line text keeps its tab and line breaks: they are typed text.
"""
from __future__ import annotations

import re

from flask import Flask, request

from app.errors import ERROR_MESSAGES, Invalid, NotFound

# C0 controls but tab, line feed and carriage return; DEL; the C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
# Parameters that carry a record id, a page or a count of days: always a 32-bit integer when numeric.
INT_NAME = re.compile(r"(?:^|_)(?:id|ids|page|days)$")
INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")

CONTROL_MESSAGE = "提交的内容含有不可见的控制字符（如 NUL），无法处理。请删除后重新输入。"
FILE_NAME_MESSAGE = "上传文件的文件名含有不可见的控制字符，请重命名文件后再上传。"


def has_control(text: str) -> bool:
    """True when text holds a character that typed text never holds (NUL, other controls, DEL)."""
    return CONTROL.search(text) is not None


def out_of_range(name: str, value: str) -> bool:
    """True when an id, page or days parameter is a whole number no database column could hold."""
    if not INT_NAME.search(name) or not INTEGER.fullmatch(value):
        return False
    return not INT32_MIN <= int(value) <= INT32_MAX


def check_pairs(pairs) -> None:
    """Refuse (400) a name or value with control characters, or an id-like number out of range."""
    for name, value in pairs:
        if has_control(name) or has_control(value):
            raise Invalid(CONTROL_MESSAGE)
        if out_of_range(name, value):
            raise Invalid("参数数值超出范围：编号、页码和天数应为合理范围内的整数。")


def check_request() -> None:
    """The before-request guard: query string, form fields and uploaded file names."""
    check_pairs(request.args.items(multi=True))
    if request.method in ("POST", "PUT", "PATCH"):
        check_pairs(request.form.items(multi=True))
        for name, upload in request.files.items(multi=True):
            if has_control(name) or has_control(upload.filename or ""):
                raise Invalid(FILE_NAME_MESSAGE)
    if has_control(request.path):
        raise Invalid(CONTROL_MESSAGE)
    # /merchants/99999999999 names no record: the 404 the id column would give, without asking the database.
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not INT32_MIN <= value <= INT32_MAX:
            raise NotFound(ERROR_MESSAGES[404])


def install(app: Flask) -> None:
    """Run the guard before every request."""
    app.before_request(check_request)
