"""The one way out to a URL that someone else chose: may we connect there, and what do we read back?

A URL is judged on the scheme, host and port the connection will really use (urllib3's parser,
the one requests and this module connect with), against an operator's allow-list; the name is
resolved once, every address is checked (loopback, private, link-local, reserved, multicast are
refused unless the entry names that address literally), and the connection goes to a checked
address. Redirects are followed only when asked, each one checked again, and credentials never
cross a change of scheme, host or port. What is read is capped in bytes and in time.

>>> allow = AllowList.parse("api.twilio.com,http://127.0.0.1:9000", "TWILIO_RECORDING_HOSTS")
>>> with request("GET", url, allow=allow, max_redirects=3, max_bytes=10_000) as response:
...     body = response.read()
"""
from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from typing import Iterator, Mapping, Optional
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError, LocationParseError
from urllib3.util import parse_url

from prosaas.errors import PermanentError

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HOST_NAME = re.compile(r"^\.?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
CHUNK_BYTES = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(PermanentError):
    """The URL, a redirect or an address its name resolves to is not allowed: nothing was sent there."""

    reason = "host_refused"

    def __init__(self, message: str, *, host: str = "-", why: str = "not_allowed"):
        super().__init__(message)
        self.host, self.why = host or "-", why


class OutboundUnavailable(Exception):
    """The name did not resolve, the connection failed, timed out or broke: worth another try later."""


class ResponseTooLarge(PermanentError):
    """The answer is larger than the caller's cap; reading stopped there."""

    reason = "too_large"


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0          # between two reads
    total: Optional[float] = None  # the whole exchange, body included


def _ip(text: str) -> Optional[IPAddress]:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _normal_host(host: str) -> str:
    host = host.strip().lower().strip("[]").rstrip(".")
    address = _ip(host)
    return str(address) if address is not None else host


@dataclass(frozen=True)
class AllowEntry:
    """One allow-list entry: `host`, `.suffix` (any subdomain), `host:port` (https), or a full origin."""

    host: str                  # a lower-case name, a '.suffix' or an IP literal
    port: Optional[int]        # None: the scheme's default port
    scheme: Optional[str]      # None: https only; set when the entry is a full origin

    @property
    def address(self) -> Optional[IPAddress]:
        return _ip(self.host)

    def matches(self, scheme: str, host: str, port: int) -> bool:
        wanted_scheme = self.scheme or "https"
        if scheme != wanted_scheme or port != (self.port or DEFAULT_PORTS[wanted_scheme]):
            return False
        if self.host.startswith("."):
            return host.endswith(self.host) and len(host) > len(self.host)
        return host == self.host

    def names(self, address: IPAddress) -> bool:
        return self.address == address


@dataclass(frozen=True)
class Target:
    """Where a checked URL connects: scheme, host and port as the client parses them, and the request path."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    entry: AllowEntry

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def _parse_entry(text: str, setting: str) -> AllowEntry:
    raw = text.strip().lower()
    scheme = None
    if "://" in raw:
        try:
            parsed = parse_url(raw)
        except LocationParseError:
            raise ValueError(f"{setting}: {text!r} is not an origin") from None
        if parsed.scheme not in DEFAULT_PORTS or not parsed.host or parsed.auth or parsed.query \
                or (parsed.path or "/") != "/":
            raise ValueError(f"{setting}: {text!r} must be an origin like https://host:port")
        scheme, host, port = parsed.scheme, parsed.host, parsed.port
    elif raw.startswith("[") and "]" in raw:
        host, _, rest = raw[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        if rest and port is None:
            raise ValueError(f"{setting}: {text!r} has a malformed port")
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"{setting}: {text!r} has a malformed port")
        port = int(port_text)
    else:
        host, port = raw, None
    host = _normal_host(host)
    if _ip(host) is None and not HOST_NAME.match(host):
        raise ValueError(f"{setting}: {text!r} is not a host name, .suffix, host:port or origin")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{setting}: {text!r} has a port out of range")
    return AllowEntry(host=host, port=port, scheme=scheme)


class AllowList:
    """Where outbound requests of one purpose may go, as an operator wrote it in `setting`.

    Parameters: `entries`, parsed entries; `setting`, the setting's name (named in every refusal).
    """

    def __init__(self, entries: tuple[AllowEntry, ...], setting: str):
        self.entries, self.setting = entries, setting

    @classmethod
    def parse(cls, text: str, setting: str) -> "AllowList":
        """Comma-separated entries; raises ValueError naming the setting and the bad entry."""
        return cls(tuple(_parse_entry(part, setting) for part in text.split(",") if part.strip()), setting)

    def check(self, url: str) -> Target:
        """The target `url` connects to, or OutboundRefused (no DNS, no network)."""
        if not isinstance(url, str) or "\\" in url or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
            raise OutboundRefused("URL contains a backslash, a space or a control character",
                                  why="malformed")
        try:
            parsed = parse_url(url)
            split = urlsplit(url)
            split_host, split_port = split.hostname, split.port
        except (LocationParseError, ValueError):
            raise OutboundRefused("URL cannot be parsed", why="malformed") from None
        scheme = (parsed.scheme or "").lower()
        if scheme not in DEFAULT_PORTS:
            raise OutboundRefused(f"URL scheme {scheme or 'none'!r} refused (http or https only)", why="scheme")
        if parsed.auth is not None or "@" in (split.netloc or ""):
            raise OutboundRefused("URL contains user information (user@host)", why="userinfo")
        host = _normal_host(parsed.host or "")
        port = parsed.port or DEFAULT_PORTS[scheme]
        # Two parsers that disagree on the host are how requests get sent somewhere else: refuse.
        if not host or _normal_host(split_host or "") != host or (split_port or DEFAULT_PORTS[scheme]) != port:
            raise OutboundRefused("URL host is ambiguous", host=host, why="ambiguous")
        for entry in self.entries:
            if entry.matches(scheme, host, port):
                return Target(url=url, scheme=scheme, host=host, port=port, path=parsed.request_uri, entry=entry)
        shown = host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
        raise OutboundRefused(f"{scheme}://{shown} is not in {self.setting}", host=host, why="not_in_allow_list")


def _forbidden(address: IPAddress) -> bool:
    return not address.is_global or address.is_multicast


def resolve(target: Target) -> list[str]:
    """The addresses to connect to; refuses when any is not public and the entry does not name it."""
    literal = _ip(target.host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise OutboundUnavailable("host name did not resolve") from None
        addresses = list(dict.fromkeys(a for a in (_ip(info[4][0]) for info in infos) if a is not None))
    if not addresses:
        raise OutboundUnavailable("host name did not resolve")
    for address in addresses:
        if _forbidden(address) and not target.entry.names(address):
            raise OutboundRefused(f"{target.host} resolves to a non-public address; {address} is not listed "
                                  "literally", host=target.host, why="private_address")
    return [str(a) for a in addresses]


class GuardedResponse:
    """An answer whose body is read within `max_bytes` and before the deadline."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, target: Target, pool: urllib3.HTTPConnectionPool, *,
                 max_bytes: int, deadline: Optional[float]):
        self.raw, self.target, self.pool = raw, target, pool
        self.max_bytes, self.deadline = max_bytes, deadline
        self.status = raw.status
        self.reason = raw.reason or ""
        self.headers = raw.headers
        self.read_bytes = 0

    def content_length(self) -> Optional[int]:
        value = self.headers.get("Content-Length", "")
        return int(value) if value.isdigit() else None

    def iter_chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The body, chunk by chunk; ResponseTooLarge past the cap (reading stops there)."""
        announced = self.content_length()
        if announced is not None and announced > self.max_bytes:
            raise ResponseTooLarge(f"answer announces {announced} bytes, more than the cap of {self.max_bytes}")
        while True:
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise OutboundUnavailable("answer took longer than allowed")
            room = self.max_bytes - self.read_bytes
            try:
                chunk = self.raw.read(min(chunk_bytes, room + 1), decode_content=False)
            except (HTTPError, OSError) as exc:
                raise OutboundUnavailable(f"connection broke while reading ({type(exc).__name__})") from None
            if not chunk:
                return
            self.read_bytes += len(chunk)
            if self.read_bytes > self.max_bytes:
                raise ResponseTooLarge(f"answer is larger than the cap of {self.max_bytes} bytes")
            yield chunk

    def read(self) -> bytes:
        return b"".join(self.iter_chunks())

    def close(self) -> None:
        self.raw.close()
        self.pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _pool(target: Target, address: str, timeouts: Timeouts) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=timeouts.connect, read=timeouts.read)
    if target.scheme == "http":
        return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)
    name = target.host if _ip(target.host) is None else None
    return urllib3.HTTPSConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1,
                                       cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                                       server_hostname=name, assert_hostname=target.host)


def _send_once(method: str, target: Target, headers: dict, body: Optional[bytes], timeouts: Timeouts,
               max_bytes: int, deadline: Optional[float]) -> GuardedResponse:
    last_error = "no address"
    for address in resolve(target):
        pool = _pool(target, address, timeouts)
        try:
            raw = pool.urlopen(method, target.path, body=body, headers={**headers, "Host": target.host_header},
                               redirect=False, retries=False, preload_content=False, assert_same_host=False,
                               release_conn=False)
        except (HTTPError, OSError) as exc:
            last_error = type(exc).__name__
            pool.close()
            continue
        return GuardedResponse(raw, target, pool, max_bytes=max_bytes, deadline=deadline)
    raise OutboundUnavailable(f"connection failed ({last_error})")


def _check_location(location: str) -> None:
    if "\\" in location:
        raise OutboundRefused("redirect Location contains a backslash", why="malformed")
    authority = urlsplit(location).netloc if "//" in location else ""
    if "@" in authority:
        raise OutboundRefused("redirect Location contains user information", why="userinfo")


def request(method: str, url: str, *, allow: AllowList, headers: Optional[Mapping[str, str]] = None,
            body: Optional[bytes] = None, authorization: Optional[str] = None, max_redirects: int = 0,
            max_bytes: int, timeouts: Timeouts = Timeouts()) -> GuardedResponse:
    """Send one request to an allowed URL and return the answer, unread (close it, or use `with`).

    `authorization` (an Authorization header value) goes only to the first URL's scheme, host and
    port, and is dropped for good at the first redirect that changes any of them. With
    `max_redirects=0` a 3xx answer is returned as it is.
    """
    deadline = time.monotonic() + timeouts.total if timeouts.total else None
    target = allow.check(url)
    send_headers = {"Accept-Encoding": "identity", **(headers or {})}
    for hop in range(max_redirects + 1):
        hop_headers = dict(send_headers)
        if authorization:
            hop_headers["Authorization"] = authorization
        response = _send_once(method, target, hop_headers, body, timeouts, max_bytes, deadline)
        location = response.headers.get("Location")
        if response.status not in REDIRECT_STATUSES or not location or max_redirects == 0:
            return response
        response.close()
        if hop == max_redirects:
            break
        _check_location(location)
        next_target = allow.check(urljoin(target.url, location))
        if next_target.origin != target.origin:
            authorization = None  # never hand credentials to another scheme, host or port
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = "GET", None
        target = next_target
    raise OutboundUnavailable(f"more than {max_redirects} redirects")
