#!/usr/bin/env python3
"""Serve a Docker Engine's BuildKit on TCP, plaintext or TLS, for tests.

Usage: tcp-front.py --listen PORT --engine SOCKET [--cert F --key F [--client-ca F]]

buildkitd listens on tcp:// (optionally with TLS and client certificates) on
a build farm; this project's machines have only the BuildKit inside a Docker
Engine, reached on its unix socket through `POST /grpc` + `Upgrade: h2c`. This
front end makes that BuildKit look like a TCP buildkitd: for each connection
it (optionally) completes a TLS handshake (ALPN h2; with --client-ca, the
client must present a certificate signed by it), opens the engine's socket,
performs the upgrade, and copies bytes both ways. Standard library only.
Prints "listening on 127.0.0.1:PORT" once ready; runs until killed.
"""
import argparse
import socket
import ssl
import sys
import threading


def upgrade(engine_path):
    engine = socket.socket(socket.AF_UNIX)
    engine.connect(engine_path)
    engine.sendall(b"POST /grpc HTTP/1.1\r\nHost: docker\r\nUpgrade: h2c\r\n"
                   b"Connection: Upgrade\r\nContent-Length: 0\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = engine.recv(4096)
        if not chunk:
            raise OSError("engine closed the connection during the upgrade")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    if b" 101 " not in head.split(b"\r\n", 1)[0] + b" ":
        raise OSError("engine refused the upgrade: %r" % head[:80])
    return engine, rest


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for sock in (src, dst):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client, args, context):
    try:
        if context is not None:
            client = context.wrap_socket(client, server_side=True)
        engine, rest = upgrade(args.engine)
    except (OSError, ssl.SSLError) as error:
        print(f"tcp-front: {error}", file=sys.stderr, flush=True)
        client.close()
        return
    if rest:
        client.sendall(rest)
    threading.Thread(target=pump, args=(engine, client), daemon=True).start()
    pump(client, engine)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        context.set_alpn_protocols(["h2"])
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
    listener = socket.socket(socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.listen))
    listener.listen(16)
    print(f"listening on 127.0.0.1:{args.listen}", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, args, context), daemon=True).start()


if __name__ == "__main__":
    main()
