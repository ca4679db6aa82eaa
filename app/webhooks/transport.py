"""Posting one event to a receiver over HTTP(S), and the address checks against SSRF (no Flask).

The address is resolved once and the connection goes to that very address (the TLS name check still uses
the host name), so a name that resolves to a public address when checked cannot lead the request to an
internal one a moment later (DNS rebinding). Redirects are never followed: http.client does not follow them,
and a 3xx counts as a failed attempt.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.errors import Invalid

MAX_URL = 500
RESPONSE_LIMIT = 4096  # bytes of the receiver's answer kept for the log


class Refused(Exception):
    """The address may not be called (scheme, host, or a private address while those are not allowed)."""


@dataclass(frozen=True)
class Target:
    """A checked address: scheme, host, port, path and the IP the connection will go to."""

    scheme: str
    host: str
    port: int
    path: str
    ip: str


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL, else Invalid with a Chinese message."""
    url = (url or "").strip()
    if not url:
        raise Invalid("请填写接收地址", field="url")
    if len(url) > MAX_URL:
        raise Invalid(f"接收地址不能超过 {MAX_URL} 个字符", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid("接收地址格式不正确", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise Invalid("接收地址须以 http:// 或 https:// 开头", field="url")
    if not parts.hostname:
        raise Invalid("接收地址缺少主机名", field="url")
    if parts.username or parts.password:
        raise Invalid("接收地址不能包含用户名或密码", field="url")
    if parts.fragment:
        raise Invalid("接收地址不能包含“#”后的部分", field="url")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def is_public(ip: str) -> bool:
    """Whether an address is a public one (not loopback, private, link-local, reserved or unspecified)."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check and resolve an address; Refused when it may not be called, with the reason in Chinese."""
    try:
        scheme, host, port, path = parse_url(url)
    except Invalid as err:
        raise Refused(str(err)) from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise Refused(f"无法解析主机名 {host}：{err}") from None
    ips = [info[4][0] for info in infos]
    if not allow_private:
        private = [ip for ip in ips if not is_public(ip)]
        if private:
            raise Refused(f"主机 {host} 解析到内网或本机地址 {private[0]}，未允许向内网地址推送"
                          "（WEBHOOK_ALLOW_PRIVATE）")
    return Target(scheme, host, port, path, ips[0])


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._ip = target.ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._ip = target.ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Answer:
    """What the receiver said."""

    status: int
    text: str

    @property
    def ok(self) -> bool:
        """A 2xx answer: the event was received."""
        return 200 <= self.status < 300


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> Answer:
    """POST the body to the checked address; the answer, or an OSError / HTTPException when none came."""
    connection = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(RESPONSE_LIMIT).decode("utf-8", "replace")
        return Answer(response.status, text)
    finally:
        connection.close()


def describe(err: BaseException) -> str:
    """A short Chinese text of why an attempt failed, for the delivery log."""
    if isinstance(err, Refused):
        return f"地址被拒绝：{err}"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return f"接收方在限定时间内未应答（{type(err).__name__}）"
    if isinstance(err, ConnectionRefusedError):
        return "连接被拒绝（接收方未在该端口监听）"
    return f"连接失败：{type(err).__name__}: {err}"
