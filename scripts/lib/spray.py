#!/usr/bin/env python3
"""Hostile-datagram sprayer for scripts/spray-test.sh, and the catalogue of absurd messages.

  spray.py send [--group G] [--ports P...] [--iface ADDR] [--duration S] [--rate N] [--seed N]
                [--mix KINDS] [--skip NAMES] [--only NAMES] [--key KEY] [--stats FILE]
      Sends hostile datagrams to every port (all roles' groups) for S seconds (default 3) at about N
      datagrams per second (default 2000), from interface ADDR (IP_MULTICAST_IF, default 127.0.0.1)
      with IP_MULTICAST_LOOP on and TTL 1. KINDS is a comma-separated subset of
        random      random bytes of random lengths (0..65000; most short)
        truncated   valid encodings cut short (never decodable: every strict prefix fails)
        trailing    valid encodings followed by extra bytes (never decodable)
        header      valid magic with unknown versions or types, bad magic, headers alone
        oversize    a valid header padded to 65000 bytes
        flood       valid decided/2B messages, each with 5000 fresh absurd far-future instances (2^40+)
                    (not in the default mix: it measures unbounded memory growth)
        absurd      VALID encodings with absurd fields (the catalogue below, category "absurd")
        borderline  valid encodings with absurd fields that also guess a real ballot (category "borderline")
        forged      plausible protocol messages without the key (category "forged"; for --key clusters)
      (default: random,truncated,trailing,header,oversize,absurd). --skip drops catalogue entries by
      name (comma-separated shell patterns, e.g. '*round-2^62-*'); --only keeps only the matching ones. --key KEY appends an HMAC-SHA256 tag under
      KEY to every datagram (to show what a key holder could do; normally absent). --stats FILE writes
      "kind count" lines at the end.
  spray.py catalogue [--mix CATEGORIES] [--skip NAMES] [--only NAMES]
      Prints the catalogue, one entry a line: "category<TAB>name<TAB>hex[,hex...]" (several datagrams
      per entry are sent in order). Fuzz/Tool.swift's "absurd" mode replays it in a simulated cluster.
  spray.py encode TYPE FIELDS...   (debug) prints one encoding in hex

Wire format (Sources/PaxosCore/Wire.swift): "PX", version 1, type byte, then unsigned LEB128 varints;
lists and byte strings are prefixed by their length. Types: 1 submit, 2 chosen, 3 prepare, 4 promise,
5 nack, 6 accept, 7 accepted, 8 replay, 9 heartbeat, 10 catchUp, 11 decided, 12 recover, (13 progress,
14 trimmed, where the build has them).
"""
import argparse
import fnmatch
import hashlib
import hmac
import random
import socket
import struct
import sys
import time

MAX64 = (1 << 64) - 1
MAX32 = (1 << 32) - 1
MAXROUND = 1 << 62  # Ballot.maxRound: the highest round the core treats as valid

SUBMIT, CHOSEN, PREPARE, PROMISE, NACK, ACCEPT, ACCEPTED, REPLAY, HEARTBEAT, CATCHUP, DECIDED, RECOVER, \
    PROGRESS, TRIMMED = range(1, 15)


# ------------------------------------------------------------------------------------------------
# encoder

def varint(v):
    assert 0 <= v <= MAX64, v
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def header(t, version=1):
    return b"PX" + bytes([version, t])


def ballot(round_, proposer):
    return varint(round_) + varint(proposer)


def submission(client, incarnation, sequence, value):
    return varint(client) + varint(incarnation) + varint(sequence) + varint(len(value)) + value


def noop():
    return b"\x00"


def batch(*subs):
    return b"\x01" + varint(len(subs)) + b"".join(subs)


def ip(instance, proposal):
    return varint(instance) + proposal


def entry(instance, b, proposal):
    return varint(instance) + b + proposal


def lst(items):
    return varint(len(items)) + b"".join(items)


def m_submit(*subs):
    return header(SUBMIT) + lst(list(subs))


def m_chosen(*ids):
    return header(CHOSEN) + lst([varint(c) + varint(i) + varint(s) for c, i, s in ids])


def m_prepare(b, frm):
    return header(PREPARE) + b + varint(frm)


def m_promise(acceptor, b, frm, chunk, count, entries, trimmed=None):
    # trimmed: the promise's trimmedThrough field, present in builds with trimming (None: older format)
    t = b"" if trimmed is None else varint(trimmed)
    return header(PROMISE) + varint(acceptor) + b + varint(frm) + varint(chunk) + varint(count) + t + lst(entries)


def m_nack(acceptor, b):
    return header(NACK) + varint(acceptor) + b


def m_accept(b, ips):
    return header(ACCEPT) + b + lst(ips)


def m_accepted(acceptor, b, ips):
    return header(ACCEPTED) + varint(acceptor) + b + lst(ips)


def m_replay(acceptor, entries):
    return header(REPLAY) + varint(acceptor) + lst(entries)


def m_heartbeat(b, first):
    return header(HEARTBEAT) + b + varint(first)


def m_catchup(learner, frm, to):
    return header(CATCHUP) + varint(learner) + varint(frm) + varint(to)


def m_decided(ips):
    return header(DECIDED) + lst(ips)


def m_recover(learner, frm):
    return header(RECOVER) + varint(learner) + varint(frm)


def m_progress(learner, delivered):
    return header(PROGRESS) + varint(learner) + varint(delivered)


def m_trimmed(acceptor, through):
    return header(TRIMMED) + varint(acceptor) + varint(through)


# ------------------------------------------------------------------------------------------------
# the catalogue: (category, name, [datagrams]), sent in order.
#
# "absurd": fields no correct process can produce (rounds at or beyond 2^62, proposer or learner ids
# nobody runs, acceptor ids outside 1..acceptor-count, instances near 2^63 or 2^64-1, reversed or
# giant ranges, chunk counts of 2^32-1). None of them names a real ballot or forges a value for a
# real instance, so an unauthenticated cluster may ignore every one of them without losing anything.
# "borderline": absurd fields on top of a guessed real ballot (rounds 1..4 of proposers 1 and 2).
# "forged": plausible protocol messages that an unauthenticated cluster MUST believe (for key tests).

BIG = [1 << 63, MAX64 - 1, MAX64]
V = b"spray-forged-value"


def catalogue(promise_formats=(0, None)):
    c = []

    def promises(acceptor, b, frm, chunk, count, entries):
        # One datagram per promise format (with and without the trimmedThrough field): the build in use
        # decodes one of them; the other is junk to it.
        return [m_promise(acceptor, b, frm, chunk, count, entries, t) for t in promise_formats]

    def add(cat, name, *dgrams):
        c.append((cat, name, list(dgrams)))

    hb = ballot(MAXROUND, 999)          # the highest VALID round, from a proposer nobody runs
    hbmax = ballot(MAXROUND, MAX32)
    over = ballot(MAXROUND + 1, 1)      # just beyond the valid rounds
    top = ballot(MAX64, 999)
    zero = ballot(0, 0)
    real = ballot(1, 1)

    # 1A / 2A with absurd ballots
    add("absurd", "prepare-round-2^62-proposer-999", m_prepare(hb, 1))
    add("absurd", "prepare-round-2^62-proposer-2^32-1", m_prepare(hbmax, 1))
    add("absurd", "prepare-round-2^62+1", m_prepare(over, 1))
    add("absurd", "prepare-round-2^64-1-from-2^64-1", m_prepare(top, MAX64))
    add("absurd", "prepare-ballot-zero-from-zero", m_prepare(zero, 0))
    add("absurd", "accept-round-2^62-proposer-999-instance-2^64-1", m_accept(hb, [ip(MAX64, noop())]))
    add("absurd", "accept-round-2^62-proposer-999-instance-2^63", m_accept(hb, [ip(1 << 63, noop())]))
    add("absurd", "accept-round-2^62-proposer-999-noop-instances-1-to-8", m_accept(hb, [ip(i, noop()) for i in range(1, 9)]))
    add("absurd", "accept-round-2^64-1-instance-1", m_accept(top, [ip(1, noop())]))
    add("absurd", "accept-ballot-zero-instance-0", m_accept(zero, [ip(0, noop())]))
    add("absurd", "accept-round-2^62+1-instances-2^63..", m_accept(over, [ip(i, noop()) for i in BIG]))
    # 1B
    add("absurd", "promise-acceptors-0-4-2^32-1", *[d for a in (0, 4, MAX32) for d in promises(a, real, 1, 0, 1, [])])
    add("absurd", "promise-round-2^62-proposer-999-chunk-2^32-2-of-2^32-1",
        *[d for a in (1, 2, 3) for d in promises(a, hb, MAX64, MAX32 - 1, MAX32, [entry(MAX64, hb, noop())])])
    # 1B nack
    add("absurd", "nack-acceptor-999-round-2^62", m_nack(999, hb))
    add("absurd", "nack-acceptor-0-round-2^62", m_nack(0, hb))
    add("absurd", "nack-acceptor-1-round-2^64-1", m_nack(1, top))
    add("absurd", "nack-acceptor-1-round-2^62-proposer-999", m_nack(1, hb))
    # 2B and replays
    add("absurd", "accepted-acceptors-0-4-2^32-1-instance-1", *[m_accepted(a, real, [ip(1, noop())]) for a in (0, 4, 65, MAX32)])
    add("absurd", "accepted-acceptor-1-round-2^62-proposer-999-instances-2^63..",
        m_accepted(1, hb, [ip(i, noop()) for i in BIG]))
    add("absurd", "accepted-acceptor-2-round-2^64-1-instance-2^64-1", m_accepted(2, top, [ip(MAX64, noop())]))
    add("absurd", "accepted-acceptor-3-instance-0", m_accepted(3, real, [ip(0, noop())]))
    add("absurd", "replay-acceptors-0-4-2^32-1", *[m_replay(a, [entry(1, real, noop())]) for a in (0, 4, MAX32)])
    add("absurd", "replay-acceptor-1-instances-2^63..-round-2^62", m_replay(1, [entry(i, hb, noop()) for i in BIG]))
    # heartbeats
    add("absurd", "heartbeat-round-2^62-proposer-999-first-2^64-1", m_heartbeat(hb, MAX64))
    add("absurd", "heartbeat-round-2^62-proposer-999-first-1", m_heartbeat(hb, 1))
    add("absurd", "heartbeat-round-2^64-1", m_heartbeat(top, MAX64))
    add("absurd", "heartbeat-ballot-zero", m_heartbeat(zero, 0))
    # catch-up requests
    add("absurd", "catchup-learner-999-1-to-2^64-1", m_catchup(999, 1, MAX64))
    add("absurd", "catchup-learner-2^32-1-from-2^64-2-to-2^64-1", m_catchup(MAX32, MAX64 - 1, MAX64))
    add("absurd", "catchup-from-after-to", m_catchup(999, 100, 3))
    add("absurd", "catchup-from-0-to-0", m_catchup(0, 0, 0))
    add("absurd", "catchup-from-2^63-to-2^64-1", m_catchup(999, 1 << 63, MAX64))
    # decided / recover / chosen
    add("absurd", "decided-instance-2^63", m_decided([ip(1 << 63, noop())]))
    add("absurd", "decided-instance-2^64-1", m_decided([ip(MAX64, noop())]))
    add("absurd", "decided-instance-0", m_decided([ip(0, noop())]))
    add("absurd", "decided-empty", m_decided([]))
    add("absurd", "recover-learner-999-from-2^64-1", m_recover(999, MAX64))
    add("absurd", "recover-learner-999-from-0", m_recover(999, 0))
    add("absurd", "chosen-client-2^32-1", m_chosen((MAX32, MAX64, MAX64), (0, 0, 0)))
    add("absurd", "submit-empty", m_submit())
    add("absurd", "submit-sequence-0", m_submit(submission(MAX32, MAX64, 0, V)))
    # trimming messages (builds with types 13/14 only; others drop them as unknown types)
    add("absurd", "progress-learners-1-2-delivered-2^64-1", m_progress(1, MAX64), m_progress(2, MAX64))
    add("absurd", "progress-learner-999-delivered-2^63", m_progress(999, 1 << 63))
    add("absurd", "progress-learner-0", m_progress(0, 5))
    add("absurd", "progress-learners-1-2-delivered-2^40", m_progress(1, 1 << 40), m_progress(2, 1 << 40))
    add("absurd", "trimmed-acceptor-1-through-2^64-1", m_trimmed(1, MAX64))
    add("absurd", "trimmed-acceptor-2-through-2^40", m_trimmed(2, 1 << 40))
    add("absurd", "trimmed-acceptor-999-through-2^63", m_trimmed(999, 1 << 63))

    # The same absurd instance numbers at the decoder's limit (Wire.maxInstance = 2^62: anything beyond
    # is refused since it was introduced) and at 2^40: they decode, so the roles must cope with them.
    for e, ename in ((1 << 62, "2^62"), (1 << 40, "2^40")):
        add("absurd", "accept-round-2^62-proposer-999-instance-" + ename, m_accept(hb, [ip(e, noop())]))
        add("absurd", "accept-round-1-proposer-999-instance-" + ename, m_accept(ballot(1, 999), [ip(e, noop())]))
        add("absurd", "accepted-acceptor-1-round-2^64-1-instance-" + ename, m_accepted(1, top, [ip(e, noop())]))
        add("absurd", "replay-acceptor-2-round-2^64-1-instance-" + ename, m_replay(2, [entry(e, top, noop())]))
        add("absurd", "decided-instance-" + ename, m_decided([ip(e, noop())]))
        add("absurd", "heartbeat-round-1-proposer-999-first-" + ename, m_heartbeat(ballot(1, 999), e))
        add("absurd", "catchup-learner-999-from-%s-to-2^64-1" % ename, m_catchup(999, e, MAX64))
        add("absurd", "recover-learner-999-from-" + ename, m_recover(999, e))
        add("absurd", "recover-learner-1-from-" + ename, m_recover(1, e))
        add("absurd", "promise-acceptors-1-3-round-2^62-from-%s" % ename,
            *[d for a in (1, 2, 3) for d in promises(a, hb, e, 0, 1, [entry(e, hb, noop())])])

    # borderline: guess the real ballots (rounds 1..4 of proposers 1, 2) and add absurd fields
    guesses = [ballot(r, p) for r in range(1, 5) for p in (1, 2)]
    add("borderline", "promise-real-ballots-chunk-count-2^32-1",
        *[d for g in guesses for a in (1, 2, 3) for d in promises(a, g, 1, 0, MAX32, [])])
    add("borderline", "promise-real-ballots-entry-instance-2^63",
        *[d for g in guesses for a in (1, 2, 3) for d in promises(a, g, 1, 0, 1, [entry(1 << 63, real, noop())])])
    add("borderline", "accept-real-ballots-instance-2^64-1", *[m_accept(g, [ip(MAX64, noop())]) for g in guesses])
    add("borderline", "accepted-real-ballots-acceptor-1-instance-2^63",
        *[m_accepted(1, g, [ip(1 << 63, noop())]) for g in guesses])
    # a promise's trimmedThrough at the decoder's limit: a new leader's next instance becomes 2^62+1,
    # which no acceptor can decode (builds with trimming; older ones read it as the list count)
    add("borderline", "promise-real-ballots-trimmed-2^62",
        *[m_promise(a, g, 1, 0, 1, [], 1 << 62) for g in guesses for a in (1, 2, 3)])
    for e, ename in ((1 << 62, "2^62"), (1 << 40, "2^40")):
        add("borderline", "accept-real-ballots-instance-" + ename, *[m_accept(g, [ip(e, noop())]) for g in guesses])
        add("borderline", "promise-real-ballots-entry-instance-" + ename,
            *[d for g in guesses for a in (1, 2, 3) for d in promises(a, g, 1, 0, 1, [entry(e, real, noop())])])

    # forged: what an unauthenticated cluster must believe. Values "spray-forged-value" with a client
    # id nobody runs; instances 1..256 in 2B quorums under the first real ballots and an absurd one,
    # `decided` for the same instances, replays, a 2A, a submission.
    fsub = submission(77, 4242, 1, V)
    fb = batch(fsub)
    for lo in range(1, 257, 32):
        ips = [ip(i, fb) for i in range(lo, lo + 32)]
        for b, bname in ((ballot(1, 1), "1.1"), (ballot(2, 1), "2.1"), (ballot(1, 2), "1.2"), (hb, "2^62.999")):
            add("forged", "accepted-quorum-ballot-%s-instances-%d-%d" % (bname, lo, lo + 31),
                *[m_accepted(a, b, ips) for a in (1, 2, 3)])
        add("forged", "decided-instances-%d-%d" % (lo, lo + 31), m_decided(ips))
    add("forged", "replay-quorum-instances-1-32", *[m_replay(a, [entry(i, ballot(1, 1), fb) for i in range(1, 33)]) for a in (1, 2, 3)])
    add("forged", "submit-forged-value", m_submit(fsub))
    add("forged", "accept-ballot-1.1-instances-1-32", m_accept(ballot(1, 1), [ip(i, fb) for i in range(1, 33)]))
    add("forged", "prepare-round-2^62", m_prepare(hb, 1))
    add("forged", "chosen-for-clients-1-2", m_chosen(*[(c, 0, s) for c in (1, 2) for s in range(1, 9)]))
    return c


def select(cat, mix, skip, only=()):
    out = []
    for category, name, dgrams in cat:
        if category not in mix:
            continue
        if only and not any(fnmatch.fnmatchcase(name, o) for o in only):
            continue
        if any(fnmatch.fnmatchcase(name, s) for s in skip):
            continue
        out.append((category, name, dgrams))
    return out


# ------------------------------------------------------------------------------------------------
# junk

def valid_samples():
    # A few valid encodings to cut or extend: never sent whole. No promise: its format differs between
    # builds (trimmedThrough), and a cut or extended promise of one format could decode in the other.
    b = ballot(3, 1)
    return [
        m_submit(submission(1, 2, 3, b"12345"), submission(2, 3, 4, b"")),
        m_chosen((1, 2, 3), (4, 5, 6)),
        m_prepare(b, 1),
        m_nack(2, b),
        m_accept(b, [ip(7, batch(submission(1, 2, 3, b"123")))]),
        m_accepted(3, b, [ip(7, noop())]),
        m_replay(1, [entry(2, b, noop())]),
        m_heartbeat(b, 9),
        m_catchup(2, 1, 513),
        m_decided([ip(4, noop())]),
        m_recover(1, 4),
    ]


class Junk:
    def __init__(self, rng):
        self.rng = rng
        self.samples = valid_samples()

    def random(self):
        r = self.rng
        # Mostly short (cheap for everyone), sometimes up to 65000 bytes.
        n = r.choice([r.randrange(0, 8), r.randrange(0, 64), r.randrange(0, 1500), r.randrange(0, 65001)])
        d = r.randbytes(n)
        if d[:3] == b"PX\x01" and len(d) >= 4 and 1 <= d[3] <= 14:
            d = b"Q" + d[1:]  # a random valid header could, in theory, decode as a forged submit
        return d

    def truncated(self):
        s = self.rng.choice(self.samples)
        return s[: self.rng.randrange(0, len(s))]

    def trailing(self):
        s = self.rng.choice(self.samples)
        return s + self.rng.randbytes(self.rng.randrange(1, 9))

    def header(self):
        r = self.rng
        k = r.randrange(6)
        if k == 0:
            return b"PX" + bytes([r.choice([0, 2, 3, 0x7F, 0xFF]), r.randrange(1, 13)]) + r.randbytes(r.randrange(0, 40))
        if k == 1:
            return b"PX\x01" + bytes([r.choice([0, 15, 16, 100, 0xFF])]) + r.randbytes(r.randrange(0, 40))
        if k == 2:
            return bytes([r.randrange(256), r.randrange(256)]) + b"\x01" + bytes([r.randrange(1, 13)]) + b"\x00" * 4
        if k == 3:
            return b"PX\x01"  # too short
        if k == 4:
            return b"PX\x01" + bytes([r.randrange(1, 15)])  # a header alone: every type needs fields
        # an overlong varint field: 11 continuation bytes
        return b"PX\x01\x0c\x01" + b"\x80" * 10 + b"\x00"

    def flood(self):
        # Absurd far-future instances, fresh ones every time, 5000 per datagram: a decided list, or
        # single 2B votes from a valid acceptor id under an impossible ballot. Nothing bounds what
        # learners (decidedAhead, vote tally) and proposers (vote tally, decided set) keep for them.
        self.flood_next = getattr(self, "flood_next", (1 << 40) + self.rng.randrange(1 << 30))
        lo = self.flood_next
        self.flood_next += 5000
        ips = [ip(i, noop()) for i in range(lo, lo + 5000)]
        if self.rng.randrange(2):
            return m_decided(ips)
        return m_accepted(self.rng.randrange(1, 4), ballot(MAX64, 999), ips)

    def oversize(self):
        # a valid header and a count claiming more items than bytes left
        return b"PX\x01\x0b" + varint(MAX64) + self.rng.randbytes(65000 - 14)


# ------------------------------------------------------------------------------------------------

def tag(key, d):
    if key is None:
        return d
    return d + hmac.new(key, d, hashlib.sha256).digest()


def cmd_send(a):
    rng = random.Random(a.seed)
    mix = set(a.mix.split(","))
    skip = [s for s in a.skip.split(",") if s]
    only = [o for o in a.only.split(",") if o]
    cat = select(catalogue(), mix & {"absurd", "borderline", "forged"}, skip, only)
    junk = Junk(rng)
    gens = [k for k in ("random", "truncated", "trailing", "header", "oversize", "flood") if k in mix]
    kinds = gens + (["catalogue"] if cat else [])
    if not kinds:
        sys.exit("spray.py: nothing to send (--mix)")
    key = a.key.encode() if a.key else None

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.iface))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    dests = [(a.group, p) for p in a.ports]

    counts = {}
    errors = 0
    sent = 0
    start = time.monotonic()
    end = start + a.duration
    ci = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        # pace: at most `rate` datagrams per second (each datagram goes to every port)
        ahead = sent / (a.rate * len(dests)) - (now - start)
        if ahead > 0:
            time.sleep(min(ahead, 0.05))
        kind = rng.choice(kinds)
        if kind == "catalogue":
            category, name, dgrams = cat[ci % len(cat)]
            ci += 1
            label = category + ":" + name
        else:
            dgrams = [getattr(junk, kind)()]
            label = kind
        for d in dgrams:
            d = tag(key, d)
            for dest in dests:
                try:
                    s.sendto(d, dest)
                    sent += 1
                except OSError:
                    errors += 1
        counts[label] = counts.get(label, 0) + 1
    lines = ["%s %d" % kv for kv in sorted(counts.items())]
    lines.append("total-datagrams %d" % sent)
    lines.append("send-errors %d" % errors)
    lines.append("seconds %.1f" % (time.monotonic() - start))
    if a.stats:
        with open(a.stats, "w") as f:
            f.write("\n".join(lines) + "\n")
    else:
        print("\n".join(lines))
    return 0


def cmd_catalogue(a):
    mix = set(a.mix.split(","))
    skip = [s for s in a.skip.split(",") if s]
    for category, name, dgrams in select(catalogue(), mix, skip, [o for o in a.only.split(",") if o]):
        print("%s\t%s\t%s" % (category, name, ",".join(d.hex() for d in dgrams)))
    return 0


def main():
    p = argparse.ArgumentParser(description="hostile datagram sprayer (see the module docstring)")
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("send")
    ps.add_argument("--group", default="239.0.0.1")
    ps.add_argument("--ports", type=int, nargs="+", default=[5000, 6000, 7000, 8000])
    ps.add_argument("--iface", default="127.0.0.1")
    ps.add_argument("--duration", type=float, default=3.0)
    ps.add_argument("--rate", type=float, default=2000.0, help="datagrams per second per port")
    ps.add_argument("--seed", type=int, default=1)
    ps.add_argument("--mix", default="random,truncated,trailing,header,oversize,absurd")
    ps.add_argument("--skip", default="")
    ps.add_argument("--only", default="", help="send only the catalogue entries matching these patterns")
    ps.add_argument("--key", default=None)
    ps.add_argument("--stats", default=None)
    pc = sub.add_parser("catalogue")
    pc.add_argument("--mix", default="absurd,borderline,forged")
    pc.add_argument("--skip", default="")
    pc.add_argument("--only", default="")
    a = p.parse_args()
    return cmd_send(a) if a.cmd == "send" else cmd_catalogue(a)


if __name__ == "__main__":
    sys.exit(main())
