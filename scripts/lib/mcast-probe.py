#!/usr/bin/env python3
"""Tiny IPv4 multicast probe for scripts/multihost-test.sh (plumbing check, independent of paxos).

  mcast-probe.py recv IFADDR GROUP PORT TIMEOUT [TAG...]
      Joins GROUP on the interface with address IFADDR, listens on PORT, prints "READY" once joined,
      then one line "TAG SIZE" for each distinct (tag, size) received. Exits 0 as soon as every TAG
      given was seen (any size counts once per tag: give "h1-s h1-b" style tags), else after TIMEOUT
      seconds with status 1 (status 0 after TIMEOUT when no TAG was given).
  mcast-probe.py send IFADDR GROUP PORT TAG SIZE [COUNT]
      Sends COUNT (default 3) datagrams of SIZE bytes starting with "TAG\\n" to GROUP:PORT from
      IFADDR (IP_MULTICAST_IF = IFADDR, TTL 1, loop on), 50 ms apart. Send errors are printed and
      ignored (a cut link may refuse them); exit status 0.
"""
import socket
import struct
import sys
import time


def recv(ifaddr, group, port, timeout, tags):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((group, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(ifaddr)))
    IP_MULTICAST_ALL = 49  # Linux: only groups this socket joined
    try:
        s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    except OSError:
        pass
    print("READY", flush=True)
    want = set(tags)
    seen = set()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or (want and want <= {t for t, _ in seen}):
            break
        s.settimeout(left)
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            break
        tag = data.split(b"\n", 1)[0].decode("ascii", "replace")
        if (tag, len(data)) not in seen:
            seen.add((tag, len(data)))
            print(tag, len(data), flush=True)
    return 0 if want <= {t for t, _ in seen} else 1


def send(ifaddr, group, port, tag, size, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.bind((ifaddr, 0))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    payload = (tag + "\n").encode()
    payload += b"x" * max(0, size - len(payload))
    for i in range(count):
        try:
            s.sendto(payload, (group, port))
        except OSError as e:
            print("send error:", e, flush=True)
        if i + 1 < count:
            time.sleep(0.05)
    return 0


def main(argv):
    if len(argv) >= 5 and argv[0] == "recv":
        return recv(argv[1], argv[2], int(argv[3]), float(argv[4]), argv[5:])
    if len(argv) in (6, 7) and argv[0] == "send":
        return send(argv[1], argv[2], int(argv[3]), argv[4], int(argv[5]), int(argv[6]) if len(argv) == 7 else 3)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
