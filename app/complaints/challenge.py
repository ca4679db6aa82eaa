"""The public form's challenge: a small sum asked by a signed, one-time token, and a field people never fill
(no Flask, no third-party service, no JavaScript).

The token carries only a random nonce and the time it was issued, signed with the app's secret key; the two
numbers of the sum are derived from the nonce with the same key, so the token alone does not give the answer.
A token is good for `max_age` seconds and for one complaint (the nonce is stored with it, unique). The honeypot
field is hidden from people by the stylesheet; a program that fills every field gives itself away.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.errors import Invalid
from app.text import identifier

SALT = "complaint-challenge"
WRONG = "验证题答案不正确，请重新计算后再提交（已换了一道题）。"
EXPIRED = "验证题已过期，请重新作答后再提交。"


@dataclass(frozen=True)
class Challenge:
    """What the form shows: the signed token (a hidden field) and the question."""

    token: str
    question: str


def _numbers(secret: str, nonce: str) -> tuple[int, int]:
    digest = hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).digest()
    return 2 + digest[0] % 8, 1 + digest[1] % 9


def issue(secret: str) -> Challenge:
    """A new question with its signed token."""
    nonce = secrets.token_urlsafe(18)
    a, b = _numbers(secret, nonce)
    token = URLSafeTimedSerializer(secret, salt=SALT).dumps(nonce)
    return Challenge(token, f"{a} 加 {b} 等于多少？")


def question_of(secret: str, token: str) -> str:
    """The question a (validly signed) token asks; empty for a token that is not ours."""
    try:
        nonce = URLSafeTimedSerializer(secret, salt=SALT).loads(token)
    except BadSignature:
        return ""
    a, b = _numbers(secret, nonce)
    return f"{a} 加 {b} 等于多少？"


def answer_of(secret: str, token: str) -> int:
    """The right answer to a token's question (for tests and the demo)."""
    nonce = URLSafeTimedSerializer(secret, salt=SALT).loads(token)
    return sum(_numbers(secret, nonce))


def check(secret: str, token: str, answer: str, honeypot: str, *, max_age: int) -> str:
    """The token's nonce when the answer is right, in time and the honeypot is empty; Invalid in Chinese else."""
    if honeypot:
        raise Invalid(WRONG, field="answer")
    try:
        nonce = URLSafeTimedSerializer(secret, salt=SALT).loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise Invalid(EXPIRED, field="answer") from None
    except BadSignature:
        raise Invalid(WRONG, field="answer") from None
    # The answer is a number typed on any keyboard: full-width digits from a Chinese input method are the same.
    answer_code = answer or ""
    typed = identifier(answer_code)
    if not (typed.isascii() and typed.isdigit()) or int(typed) != sum(_numbers(secret, nonce)):
        raise Invalid(WRONG, field="answer")
    return nonce


def merchant_ref(secret: str, merchant_id: int) -> str:
    """A merchant's reference in a public address: signed, so the public cannot walk the merchants by id."""
    return URLSafeTimedSerializer(secret, salt="complaint-merchant").dumps(merchant_id)


def merchant_of(secret: str, ref: str) -> int | None:
    """The merchant id a public reference names, or None for one that is not ours."""
    try:
        value = URLSafeTimedSerializer(secret, salt="complaint-merchant").loads(ref)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None
