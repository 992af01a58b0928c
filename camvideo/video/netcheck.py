"""What a stream's server really said, when FFmpeg only says it gave up.

A stream that does not open within its wait fails with the same FFmpeg error
whether the server stayed silent or sent bytes that are no stream ("invalid
data", or an interrupt at the timeout). ``server_answer`` asks the server once
more with the protocol's plainest request (HTTP ``GET``, RTSP ``OPTIONS``) and
reads what comes back for a moment, so the message can say which it was.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
import urllib.parse

DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "rtsps": 322, "rtmp": 1935}
TLS = ("https", "rtsps")
PROTOCOL = {"http": "HTTP", "https": "HTTP", "rtsp": "RTSP", "rtsps": "RTSP", "rtmp": "RTMP"}
READ_LIMIT = 4096
_STATUS = re.compile(rb"(HTTP|RTSP)/\d(?:\.\d)? (\d{3}) ?([^\r\n]*)")


def _request(scheme: str, parts: urllib.parse.SplitResult, url: str) -> bytes:
    host = parts.netloc.rsplit("@", 1)[-1]
    if PROTOCOL.get(scheme) == "HTTP":
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: camvideo\r\n\r\n".encode()
    if PROTOCOL.get(scheme) == "RTSP":
        return f"OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: camvideo\r\n\r\n".encode()
    return b""  # RTMP, TCP: the server may speak first; if not, silence is the answer


def _read(sock: socket.socket, wait: float) -> bytes:
    data = b""
    deadline = time.monotonic() + wait
    while len(data) < READ_LIMIT:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(READ_LIMIT - len(data))
        except (TimeoutError, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
        if _STATUS.match(data) and b"\r\n\r\n" in data:
            break  # a whole reply header: enough to say what it was
    return data


def describe_answer(scheme: str, data: bytes) -> str:
    """A phrase for the bytes a server sent back to ``_request``."""
    status = _STATUS.match(data)
    if status is None:
        expected = PROTOCOL.get(scheme, scheme.upper())
        return f"the server sent {len(data)} bytes that are not {expected} (the wrong port or protocol?)"
    proto, code, why = status.group(1).decode(), int(status.group(2)), status.group(3).decode("latin-1").strip()
    answer = f"the server answered {proto} {code}" + (f" {why}" if why else "")
    if code >= 400:
        return answer
    kind = re.search(rb"\r\ncontent-type:[ \t]*([^\r\n;]+)", data, re.IGNORECASE)
    if kind:
        answer += f" ({kind.group(1).decode('latin-1').strip()})"
    return answer + " but sent nothing FFmpeg can read as video"


def server_answer(url: str, wait: float = 2.0) -> str | None:
    """What the server of ``url`` sends back within ``wait`` seconds to a plain
    request, as a phrase; None when it sends nothing (or cannot be asked: UDP)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is no number: FFmpeg said so already
        return None
    if scheme == "udp" or not parts.hostname or not port:
        return None
    try:
        sock = socket.create_connection((parts.hostname, port), timeout=wait)
    except ConnectionRefusedError:
        return f"{parts.hostname}:{port} refused the connection"
    except socket.gaierror:
        return f"cannot resolve {parts.hostname}"
    except OSError:
        return None
    try:
        if scheme in TLS:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # only to see what it says, never to trust it
            sock.settimeout(wait)
            try:
                sock = context.wrap_socket(sock, server_hostname=parts.hostname)
            except ssl.SSLError:
                return "the server does not speak TLS (the wrong port or scheme?)"
        request = _request(scheme, parts, url)
        if request:
            sock.sendall(request)
        data = _read(sock, wait)
    except OSError:
        return None
    finally:
        sock.close()
    return describe_answer(scheme, data) if data else None
