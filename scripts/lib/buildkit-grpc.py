#!/usr/bin/env python3
"""Ask the BuildKit inside a Docker Engine who it is, over the engine's /grpc endpoint.

Usage: buildkit-grpc.py SOCKET

Used by scripts/buildkit status. Standard library only, so it runs wherever
python3 does:

1. On the engine's unix socket, send `POST /grpc` with `Upgrade: h2c` and
   `Connection: Upgrade` (what `docker buildx` does) and require
   `101 Switching Protocols`.
2. Speak HTTP/2 (RFC 9113) on the same connection, as a gRPC client starts it:
   connection preface, then unary calls moby.buildkit.v1.Control/Info and
   /ListWorkers on streams 1 and 3.

Request headers are HPACK literals without indexing and without Huffman
coding (RFC 7541 section 6.2.2), which every decoder must accept; responses are
read only from DATA frames, so no HPACK decoder is needed. A gRPC error comes
back as trailers only and is reported as "no response message".

Prints `upgrade: <status line>`, `buildkit: <package> <version> <revision>` and
one `worker: ...` line per worker (id, platforms, labels). Exits 1 on failure.
"""
import socket
import struct
import sys

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def fail(msg):
    print(f"buildkit-grpc: {msg}", file=sys.stderr)
    sys.exit(1)


def recv_exact(sock, n, buf):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            fail("connection closed by the engine")
        buf += chunk
    return buf[:n], buf[n:]


def upgrade(sock):
    sock.sendall(b"POST /grpc HTTP/1.1\r\nHost: localhost\r\n"
                 b"Upgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            fail("connection closed before the upgrade answer")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 101 " not in status + " ":
        fail(f"POST /grpc answered '{status}', expected 101 Switching Protocols")
    return status, rest


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    # RFC 7541 6.2.2: literal header field without indexing, new name.
    out = b"\x00"
    for s in (name.encode(), value.encode()):
        out += hpack_int(len(s), 7) + s
    return out


def grpc_call(method, stream, message=b""):
    block = b"".join(hpack_literal(n, v) for n, v in (
        (":method", "POST"), (":scheme", "http"), (":path", method), (":authority", "localhost"),
        ("content-type", "application/grpc"), ("te", "trailers")))
    body = b"\x00" + struct.pack(">I", len(message)) + message
    return frame(HEADERS, END_HEADERS, stream, block) + frame(DATA, END_STREAM, stream, body)


def read_responses(sock, buf, streams):
    """Collects DATA payloads per stream until every stream in `streams` has ended."""
    data = {s: b"" for s in streams}
    open_streams = set(streams)
    while open_streams:
        head, buf = recv_exact(sock, 9, buf)
        length = int.from_bytes(head[:3], "big")
        ftype, flags = head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload, buf = recv_exact(sock, length, buf)
        if ftype == SETTINGS and not flags & ACK:
            sock.sendall(frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK:
            sock.sendall(frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            fail(f"engine sent GOAWAY (error code {int.from_bytes(payload[4:8], 'big')})")
        elif ftype == RST_STREAM and stream in open_streams:
            fail(f"engine reset stream {stream} (error code {int.from_bytes(payload[:4], 'big')})")
        elif ftype == DATA and stream in data:
            if flags & 0x8:  # PADDED
                payload = payload[1:len(payload) - payload[0]]
            data[stream] += payload
        if ftype in (DATA, HEADERS) and flags & END_STREAM:
            open_streams.discard(stream)
    return data


def grpc_message(body, what):
    if len(body) < 5:
        fail(f"{what}: no response message (the call failed; see the engine's log)")
    length = int.from_bytes(body[1:5], "big")
    return body[5:5 + length]


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def fields(buf):
    """Protobuf wire format: yields (field number, value); length-delimited values are bytes."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        wire = key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            fail(f"unexpected protobuf wire type {wire}")
        yield key >> 3, value


def text(fields_list, number):
    return next((v.decode() for f, v in fields_list if f == number), "")


def describe_version(msg):
    # moby.buildkit.v1.types.BuildkitVersion: package = 1, version = 2, revision = 3.
    f = list(fields(msg))
    return " ".join(x for x in (text(f, 1), text(f, 2), text(f, 3)) if x)


def describe_worker(msg):
    # moby.buildkit.v1.types.WorkerRecord: ID = 1, Labels = 2 (map entries key 1, value 2),
    # platforms = 3 (pb.Platform: Architecture = 1, OS = 2, Variant = 3).
    f = list(fields(msg))
    labels, platforms = [], []
    for number, value in f:
        if number == 2:
            entry = list(fields(value))
            labels.append(f"{text(entry, 1)}={text(entry, 2)}")
        elif number == 3:
            p = list(fields(value))
            platforms.append("/".join(x for x in (text(p, 2), text(p, 1), text(p, 3)) if x))
    return f"{text(f, 1)} platforms={','.join(platforms)} " + " ".join(sorted(labels))


def main():
    if len(sys.argv) != 2:
        fail("usage: buildkit-grpc.py SOCKET")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    try:
        sock.connect(sys.argv[1])
    except OSError as e:
        fail(f"cannot connect to {sys.argv[1]}: {e}")
    status, rest = upgrade(sock)
    print(f"upgrade: {status}")
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0)
                 + grpc_call("/moby.buildkit.v1.Control/Info", 1)
                 + grpc_call("/moby.buildkit.v1.Control/ListWorkers", 3))
    data = read_responses(sock, rest, (1, 3))
    info = dict(fields(grpc_message(data[1], "Control/Info")))
    print(f"buildkit: {describe_version(info.get(1, b''))}")
    for number, record in fields(grpc_message(data[3], "Control/ListWorkers")):
        if number == 1:
            print(f"worker: {describe_worker(record)}")
    sock.close()


if __name__ == "__main__":
    main()
