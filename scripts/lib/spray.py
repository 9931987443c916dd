#!/usr/bin/env python3
"""Hostile-datagram sprayer for scripts/spray-test.sh, and the catalogue of absurd messages.

  spray.py send [--group G] [--ports P...] [--iface ADDR] [--duration S] [--rate N] [--seed N]
                [--mix KINDS] [--skip NAMES] [--only NAMES] [--key KEY] [--stats FILE]
                [--acceptor-count N] [--learner-count N]
      Sends hostile datagrams to every port (all roles' groups) for S seconds (default 3) at about N
      datagrams per second (default 2000), from interface ADDR (IP_MULTICAST_IF, default 127.0.0.1)
      with IP_MULTICAST_LOOP on and TTL 1. KINDS is a comma-separated subset of
        random      random bytes of random lengths (0..65000; most short)
        truncated   valid encodings cut short (never decodable: every strict prefix fails)
        trailing    valid encodings followed by extra bytes (never decodable)
        header      valid magic with unknown versions (1: the old format) or types, bad magic, headers
                    alone or cut short, bad header fields (unknown sender role, fingerprint, id or
                    incarnation beyond 32 bits, startedAt beyond 64 bits)
        oversize    a valid header (through the sender) padded to 65000 bytes
        flood       valid decided/2B messages, each with 5000 fresh absurd far-future instances (2^40+)
                    (not in the default mix: it measures unbounded memory growth)
        absurd      VALID encodings with absurd fields (the catalogue below, category "absurd")
        borderline  valid encodings with absurd fields that also guess a real ballot (category "borderline")
        forged      plausible protocol messages without the key (category "forged"; for --key clusters)
      (default: random,truncated,trailing,header,oversize,absurd). --skip drops catalogue entries by
      name (comma-separated shell patterns, e.g. '*round-2^62-*'); --only keeps only the matching ones. --key KEY appends an HMAC-SHA256 tag under
      KEY to every datagram (to show what a key holder could do; normally absent). --stats FILE writes
      "kind count" lines at the end.
  spray.py catalogue [--mix CATEGORIES] [--skip NAMES] [--only NAMES] [--acceptor-count N] [--learner-count N]
      Prints the catalogue, one entry a line: "category<TAB>name<TAB>hex[,hex...]" (several datagrams
      per entry are sent in order). Fuzz/Tool.swift's "absurd" mode replays it in a simulated cluster.
  --acceptor-count N and --learner-count N (defaults 3 and 2, the cluster defaults) set the cluster
  fingerprint every datagram carries. They must equal the target cluster's `acceptor-count` and
  `learner-count` settings, or its processes set aside every decodable datagram as foreign before any
  role sees it (spray-test.sh's cluster sets neither: the defaults fit).

Wire format, version 2 (Sources/PaxosCore/Wire.swift): "PX", version byte 2, type byte, then unsigned
LEB128 varints; lists and byte strings are prefixed by their length. After the type byte comes the
header: the cluster fingerprint (varint acceptorCount, varint learnerCount), then the sender: a role
byte (1 acceptor, 2 proposer, 3 learner, 4 client), varint id, varint incarnation (u32), varint
startedAt (u64). Every datagram sprayed here claims the sender SENDER below, client 999, incarnation 7,
startedAt 0: no real process plays it, and with startedAt 0 it is never newer than a real process, so
it can never displace one (a process stops on hearing a NEWER process with its own role and id).
A ballot is three varints: round, proposer, incarnation (u32; 0 here). Types and bodies:
   1 submit [submission]         2 chosen [client incarnation sequence]   3 prepare ballot from
   4 promise acceptor ballot from answer chunk chunkCount trimmedThrough [entry]
   5 nack acceptor ballot        6 accept ballot decidedThrough [instance proposal]
   7 accepted acceptor ballot [instance proposal]    8 replay acceptor [entry]
   9 heartbeat ballot firstUndecided                10 catchUp learner from to
  11 decided [instance proposal]  12 recover learner from   13 progress learner delivered
  14 trimmed acceptor through     15 recoverState acceptor barrier-ballot request
  16 acceptorState (a promise, flag, request) 17 present acceptor
(entry: instance ballot proposal; proposal: 0 noop, or 1 [client incarnation sequence value]).
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

VERSION = 2
SUBMIT, CHOSEN, PREPARE, PROMISE, NACK, ACCEPT, ACCEPTED, REPLAY, HEARTBEAT, CATCHUP, DECIDED, RECOVER, \
    PROGRESS, TRIMMED, RECOVER_STATE, ACCEPTOR_STATE, PRESENT = range(1, 18)
MAXTYPE = PRESENT
ACCEPTOR_ROLE, PROPOSER_ROLE, LEARNER_ROLE, CLIENT_ROLE = 1, 2, 3, 4

# The sender every sprayed datagram claims: (role, id, incarnation, startedAt). Client 999 is no real
# process; startedAt 0 keeps it older than every real process whatever role and id it claims, so it can
# never make one stop (an older twin is only dropped and warned about).
SENDER = (CLIENT_ROLE, 999, 7, 0)
# The cluster fingerprint (acceptor-count, learner-count) stamped on every datagram: set_fingerprint().
FINGERPRINT = (3, 2)


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


def set_fingerprint(acceptor_count, learner_count):
    """The target cluster's acceptor-count and learner-count, for every datagram built afterwards."""
    global FINGERPRINT
    FINGERPRINT = (acceptor_count, learner_count)


def sender_header(fingerprint=None, sender=None):
    """The header after the type byte: fingerprint (acceptorCount, learnerCount), then the sender
    (role byte, id, incarnation, startedAt)."""
    acceptors, learners = FINGERPRINT if fingerprint is None else fingerprint
    role, id_, incarnation, started_at = SENDER if sender is None else sender
    return varint(acceptors) + varint(learners) + bytes([role]) + varint(id_) + varint(incarnation) + varint(started_at)


def header(t, version=VERSION):
    """Magic, version, type and the sender header: everything before a message's fields."""
    return b"PX" + bytes([version, t]) + sender_header()


def ballot(round_, proposer, incarnation=0):
    return varint(round_) + varint(proposer) + varint(incarnation)


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


def promise_body(acceptor, b, frm, chunk, count, entries, trimmed=0, answer=7):
    # answer: the label of one answer (chunks are only combined with chunks of the same label)
    return varint(acceptor) + b + varint(frm) + varint(answer) + varint(chunk) + varint(count) + varint(trimmed) \
        + lst(entries)


def m_promise(acceptor, b, frm, chunk, count, entries, trimmed=0, answer=7):
    return header(PROMISE) + promise_body(acceptor, b, frm, chunk, count, entries, trimmed, answer)


def m_nack(acceptor, b):
    return header(NACK) + varint(acceptor) + b


def m_accept(b, ips, decided_through=0):
    return header(ACCEPT) + b + varint(decided_through) + lst(ips)


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


def m_recover_state(acceptor, barrier, request=7):
    # the request nonce is echoed by the answers
    return header(RECOVER_STATE) + varint(acceptor) + barrier + varint(request)


def m_acceptor_state(acceptor, b, frm, chunk, count, entries, trimmed=0, answer=7, recovering=False, request=7):
    # the body of a promise, one byte (1 if the answering acceptor is without state itself), then the
    # request it answers
    return (header(ACCEPTOR_STATE) + promise_body(acceptor, b, frm, chunk, count, entries, trimmed, answer)
            + bytes([1 if recovering else 0]) + varint(request))


def m_present(acceptor, promised=None):
    # the acceptor, then its promise (a ballot; 0.0 if it never promised anything)
    return header(PRESENT) + varint(acceptor) + (promised if promised is not None else ballot(0, 0))


# ------------------------------------------------------------------------------------------------
# the catalogue: (category, name, [datagrams]), sent in order.
#
# "absurd": fields no correct process can produce (rounds at or beyond 2^62, proposer or learner ids
# nobody runs, acceptor ids outside 1..acceptor-count, instances near 2^63 or 2^64-1, reversed or
# giant ranges, chunk counts of 2^32-1). None of them names a real ballot or forges a value for a
# real instance, so an unauthenticated cluster may ignore every one of them without losing anything.
# "borderline": absurd fields on top of a guessed real ballot (rounds 1..4 of proposers 1 and 2, with
# incarnation 0: real proposers draw theirs at random, so a guess sits at or just below the real
# ballot of its round and proposer, and above every ballot of lower rounds).
# "forged": plausible protocol messages that an unauthenticated cluster MUST believe (for key tests).
# Every datagram carries the header of header(): the fingerprint set by set_fingerprint() and SENDER.

BIG = [1 << 63, MAX64 - 1, MAX64]
V = b"spray-forged-value"


def catalogue():
    c = []

    def promises(acceptor, b, frm, chunk, count, entries):
        # Version 1 had two promise formats (with and without trimmedThrough), so this sent one datagram
        # of each; version 2 has one (always answer and trimmedThrough), kept as a list for the callers.
        return [m_promise(acceptor, b, frm, chunk, count, entries)]

    def add(cat, name, *dgrams):
        c.append((cat, name, list(dgrams)))

    # Ballots are (round, proposer, incarnation); incarnation 0 throughout.
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
    # trimming messages
    add("absurd", "progress-learners-1-2-delivered-2^64-1", m_progress(1, MAX64), m_progress(2, MAX64))
    add("absurd", "progress-learner-999-delivered-2^63", m_progress(999, 1 << 63))
    add("absurd", "progress-learner-0", m_progress(0, 5))
    add("absurd", "progress-learners-1-2-delivered-2^40", m_progress(1, 1 << 40), m_progress(2, 1 << 40))
    add("absurd", "trimmed-acceptor-1-through-2^64-1", m_trimmed(1, MAX64))
    add("absurd", "trimmed-acceptor-2-through-2^40", m_trimmed(2, 1 << 40))
    add("absurd", "trimmed-acceptor-999-through-2^63", m_trimmed(999, 1 << 63))
    # a 2A's decidedThrough (the leader's decided prefix, the most acceptors may trim) beyond any log
    add("absurd", "accept-round-2^64-1-decided-through-2^64-1", m_accept(top, [ip(1, noop())], MAX64))
    # acceptor recovery (types 15-17): a blank acceptor's recoverState (acceptor, barrier ballot
    # (round, proposer 0, incarnation 0)), the others' acceptorState answers (a promise's body), and
    # the periodic present. Acceptor ids outside 1..acceptor-count, barriers no acceptor may raise its
    # promise to (beyond Ballot.maxRoundJump, not well-formed, proposer not 0), state answers nobody asked
    # for with absurd fields.
    add("absurd", "recover-state-acceptors-0-4-2^32-1-barrier-round-2",
        *[m_recover_state(a, ballot(2, 0)) for a in (0, 4, MAX32)])
    add("absurd", "recover-state-acceptors-1-3-barrier-round-2^62",
        *[m_recover_state(a, ballot(MAXROUND, 0)) for a in (1, 2, 3)])
    add("absurd", "recover-state-acceptors-1-3-barrier-round-2^62+1",
        *[m_recover_state(a, ballot(MAXROUND + 1, 0)) for a in (1, 2, 3)])
    add("absurd", "recover-state-acceptors-1-3-barrier-round-2^64-1",
        *[m_recover_state(a, ballot(MAX64, 0)) for a in (1, 2, 3)])
    add("absurd", "recover-state-acceptors-1-3-barrier-round-2-proposer-999",
        *[m_recover_state(a, ballot(2, 999)) for a in (1, 2, 3)])
    add("absurd", "acceptor-state-acceptors-0-4-2^32-1",
        *[m_acceptor_state(a, real, 1, 0, 1, []) for a in (0, 4, MAX32)])
    add("absurd", "acceptor-state-acceptors-1-3-round-2^64-1-chunk-2^32-2-of-2^32-1",
        *[m_acceptor_state(a, top, 1, MAX32 - 1, MAX32, [entry(1 << 62, top, noop())], 1 << 62) for a in (1, 2, 3)])
    add("absurd", "acceptor-state-acceptors-1-3-trimmed-2^62",
        *[m_acceptor_state(a, real, 1, 0, 1, [], 1 << 62) for a in (1, 2, 3)])
    add("absurd", "present-acceptors-0-4-2^32-1", *[m_present(a) for a in (0, 4, MAX32)])

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

    # borderline: guess the real ballots (rounds 1..4 of proposers 1, 2, incarnation 0) and add absurd fields
    guesses = [ballot(r, p) for r in range(1, 5) for p in (1, 2)]
    add("borderline", "promise-real-ballots-chunk-count-2^32-1",
        *[d for g in guesses for a in (1, 2, 3) for d in promises(a, g, 1, 0, MAX32, [])])
    add("borderline", "promise-real-ballots-entry-instance-2^63",
        *[d for g in guesses for a in (1, 2, 3) for d in promises(a, g, 1, 0, 1, [entry(1 << 63, real, noop())])])
    add("borderline", "accept-real-ballots-instance-2^64-1", *[m_accept(g, [ip(MAX64, noop())]) for g in guesses])
    add("borderline", "accepted-real-ballots-acceptor-1-instance-2^63",
        *[m_accepted(1, g, [ip(1 << 63, noop())]) for g in guesses])
    # a promise's trimmedThrough at the decoder's limit: a new leader's next instance becomes 2^62+1,
    # which no acceptor can decode
    add("borderline", "promise-real-ballots-trimmed-2^62",
        *[m_promise(a, g, 1, 0, 1, [], 1 << 62) for g in guesses for a in (1, 2, 3)])
    for e, ename in ((1 << 62, "2^62"), (1 << 40, "2^40")):
        add("borderline", "accept-real-ballots-instance-" + ename, *[m_accept(g, [ip(e, noop())]) for g in guesses])
        add("borderline", "accept-real-ballots-decided-through-" + ename, *[m_accept(g, [ip(e, noop())], e) for g in guesses])
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
    # acceptor recovery: ask every acceptor for its state (barrier zero: its promise only; a barrier
    # (round 5, proposer 0, incarnation 0): raise the promise to it, then send everything), a forged
    # state answer (believed by an acceptor recovering at that moment), presence notices
    add("forged", "recover-state-acceptors-1-3-barrier-zero", *[m_recover_state(a, zero) for a in (1, 2, 3)])
    add("forged", "recover-state-acceptors-1-3-barrier-round-5", *[m_recover_state(a, ballot(5, 0)) for a in (1, 2, 3)])
    add("forged", "acceptor-state-quorum-instances-1-32",
        *[m_acceptor_state(a, ballot(1, 1), 1, 0, 1, [entry(i, ballot(1, 1), fb) for i in range(1, 33)]) for a in (1, 2, 3)])
    add("forged", "present-acceptors-1-3", *[m_present(a) for a in (1, 2, 3)])
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
    # A few valid encodings to cut or extend: never sent whole. (Version 1 left the promise out, as its
    # format differed between builds; version 2 has one format, and a build of another version refuses
    # every one of these by their version byte.)
    b = ballot(3, 1)
    return [
        m_submit(submission(1, 2, 3, b"12345"), submission(2, 3, 4, b"")),
        m_chosen((1, 2, 3), (4, 5, 6)),
        m_prepare(b, 1),
        m_nack(2, b),
        m_accept(b, [ip(7, batch(submission(1, 2, 3, b"123")))], 6),
        m_accepted(3, b, [ip(7, noop())]),
        m_replay(1, [entry(2, b, noop())]),
        m_heartbeat(b, 9),
        m_catchup(2, 1, 513),
        m_decided([ip(4, noop())]),
        m_recover(1, 4),
        m_promise(2, b, 5, 0, 1, [entry(5, ballot(2, 1), noop())], 4, 12345),
        m_progress(1, 4),
        m_trimmed(3, 4),
        m_recover_state(2, ballot(4, 0)),
        m_acceptor_state(1, b, 5, 0, 1, [entry(5, b, batch(submission(1, 2, 3, b"4")))], 4, 99),
        m_present(3),
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
        if d[:3] == b"PX" + bytes([VERSION]) and len(d) >= 4 and 1 <= d[3] <= MAXTYPE:
            d = b"Q" + d[1:]  # a random valid header could, in theory, decode as a forged submit
        return d

    def truncated(self):
        s = self.rng.choice(self.samples)
        return s[: self.rng.randrange(0, len(s))]

    def trailing(self):
        s = self.rng.choice(self.samples)
        return s + self.rng.randbytes(self.rng.randrange(1, 9))

    def header(self):
        # Bad magic, versions, types and headers (the fingerprint and sender after the type byte).
        r = self.rng
        px = b"PX" + bytes([VERSION])
        hdr = sender_header()
        k = r.randrange(9)
        if k == 0:
            # another version (1: the old format) before random bytes or a valid version-2 body
            v = bytes([r.choice([0, 1, 3, 0x7F, 0xFF])])
            if r.randrange(2):
                return b"PX" + v + bytes([r.randrange(1, MAXTYPE + 1)]) + r.randbytes(r.randrange(0, 40))
            s = r.choice(self.samples)
            return s[:2] + v + s[3:]
        if k == 1:
            return px + bytes([r.choice([0, MAXTYPE + 1, MAXTYPE + 2, 100, 0xFF])]) + hdr + r.randbytes(r.randrange(0, 40))
        if k == 2:
            return bytes([r.randrange(256), r.randrange(256)]) + bytes([VERSION, r.randrange(1, MAXTYPE + 1)]) + hdr + b"\x00" * 4
        if k == 3:
            return px  # too short
        if k == 4:
            # the type byte alone, or cut inside the header, or the whole header: every type needs fields
            return px + bytes([r.randrange(1, MAXTYPE + 1)]) + hdr[: r.randrange(0, len(hdr) + 1)]
        if k == 5:
            # an overlong varint field: 11 continuation bytes
            return px + bytes([CATCHUP]) + hdr + b"\x01" + b"\x80" * 10 + b"\x00"
        s = r.choice(self.samples)
        body = s[4 + len(hdr):]
        if k == 6:
            # an unknown sender role
            role = 4 + len(varint(FINGERPRINT[0])) + len(varint(FINGERPRINT[1]))
            return s[:role] + bytes([r.choice([0, 5, 0x7F, 0xFF])]) + s[role + 1:]
        if k == 7:
            # a fingerprint, sender id or incarnation beyond 32 bits (startedAt is 64 bits)
            f, snd = list(FINGERPRINT), list(SENDER)
            which = r.randrange(4)
            if which < 2:
                f[which] = r.choice([MAX32 + 1, MAX64])
            else:
                snd[which - 1] = r.choice([MAX32 + 1, MAX64])
            return s[:4] + sender_header(tuple(f), tuple(snd)) + body
        # a startedAt varint overflowing 64 bits (its tenth byte above 1)
        bad = b"\xff" * 9 + bytes([r.randrange(2, 0x80)])
        return s[:4] + sender_header(sender=SENDER[:3] + (0,))[:-1] + bad + body

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
        # a valid header (through the sender) and a decided list whose count claims more items than
        # bytes left, 65000 bytes in all
        h = header(DECIDED) + varint(MAX64)
        return h + self.rng.randbytes(65000 - len(h))


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
    for sp in (ps, pc):
        sp.add_argument("--acceptor-count", type=int, default=3,
                        help="the target cluster's acceptor-count, stamped in every header (default 3)")
        sp.add_argument("--learner-count", type=int, default=2,
                        help="the target cluster's learner-count, stamped in every header (default 2)")
    a = p.parse_args()
    if not (0 <= a.acceptor_count <= MAX32 and 0 <= a.learner_count <= MAX32):
        p.error("--acceptor-count and --learner-count must be in 0..2^32-1")
    set_fingerprint(a.acceptor_count, a.learner_count)
    return cmd_send(a) if a.cmd == "send" else cmd_catalogue(a)


if __name__ == "__main__":
    sys.exit(main())
