# Hop-by-hop latency from a syscall trace (docs/bench/trace-hops.sh writes BASE.script and BASE.roles):
# per process fdatasync times and how busy its loop is, then each client sendmsg followed through the
# leader (its 2A), the second acceptor to send its 2B, and each learner's print. python3 hops.py BASE
import sys, re, bisect, statistics, collections
base = sys.argv[1]
role = {}
for l in open(base + '.roles'):
    t, r = l.split(); role[t] = r
NR = {'47':'recvmsg','46':'sendmsg','307':'sendmmsg','299':'recvmmsg','75':'fdatasync','232':'epoll_wait','281':'epoll_pwait','1':'write','18':'pwrite64','74':'fsync'}
pending = {}
events = collections.defaultdict(list)  # role -> list of (start, end, name, ret)
for l in open(base + '.script'):
    m = re.match(r'\s*(\d+)\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+)(?: = (-?\d+))?', l)
    if not m: continue
    tid, ts, kind, nr, ret = m.groups()
    ts = float(ts) * 1e3  # ms
    if tid not in role: continue
    if kind == 'enter':
        pending[tid] = (ts, nr)
    else:
        if tid in pending and pending[tid][1] == nr:
            st = pending.pop(tid)[0]
            name = NR.get(nr, nr)
            events[role[tid]].append((st, ts, name, int(ret)))
for r in events: events[r].sort()
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs)-1, int(p/100*len(xs)))] if xs else float('nan')
def summ(name, xs):
    print(f"{name:40s} n={len(xs):6d} p50={pct(xs,50):7.3f} p90={pct(xs,90):7.3f} p99={pct(xs,99):7.3f} mean={statistics.mean(xs) if xs else 0:7.3f} ms")
# bursts: sequences between epoll_wait exits
def bursts(r):
    out = []; cur = None
    for (st, en, name, ret) in events[r]:
        if name in ('epoll_wait','epoll_pwait'):
            if cur: cur['end'] = st; out.append(cur)
            cur = {'wake': en, 'recv': [], 'send': [], 'fsync': [], 'write': [], 'end': None}
            continue
        if cur is None: continue
        if name == 'recvmsg' and ret > 0: cur['recv'].append(en)
        if name in ('sendmsg','sendmmsg') and ret > 0: cur['send'].append(en)
        if name == 'fdatasync': cur['fsync'].append((st, en))
        if name == 'write' and ret > 0: cur['write'].append(en)
    return out
B = {r: bursts(r) for r in events}
for r in sorted(events):
    fs = [en - st for (st, en, n, _) in events[r] if n == 'fdatasync']
    if fs: summ(f'{r} fdatasync', fs)
    bb = [b for b in B[r] if b['recv']]
    busy = sum((b['end'] - b['wake']) for b in B[r] if b['end'])
    span = events[r][-1][1] - events[r][0][0]
    print(f"   {r}: bursts with recv {len(bb)}, mean datagrams/burst {statistics.mean(len(b['recv']) for b in bb):.2f}, busy (wake->next wait) {busy/span*100:.0f}% of {span:.0f} ms")
# hop analysis
def next_burst_after(r, t, need):
    # first burst of r whose first recv is after t and that has `need` (send/write)
    for b in B[r]:
        if b['recv'] and b['recv'][0] >= t and b[need]:
            return b
    return None
import itertools
def starts(r):
    return [b['recv'][0] if b['recv'] else b['wake'] for b in B[r]]
S = {r: starts(r) for r in B}
E = {r: [b['end'] or 1e18 for b in B[r]] for r in B}
def nb(r, t, need):
    # the burst that reads a datagram sent at t: the first whose reads extend past t and which has `need` after it
    i = bisect.bisect_left(E[r], t)
    while i < len(B[r]):
        b = B[r][i]
        later = [x for x in b['recv'] if x >= t]
        if later and [x for x in b[need] if x >= later[0]]:
            b = dict(b); b['recv'] = later; b[need] = [x for x in b[need] if x >= later[0]]
            return b
        i += 1
    return None
h3a = []; h3b = []; h1 = []; h2 = []; h3 = []; h4 = []; tot = []; hw = []; hcommit = []
leader = 'p1' if len(B.get('p1', [])) and sum(len(b['send']) for b in B['p1']) > sum(len(b['send']) for b in B.get('p2', [])) else 'p2'
for c in [c for c in ('c1','c2') if c in B]:
    for b in B[c]:
        for t0 in b['send']:
            lb = nb(leader, t0, 'send')
            if not lb: continue
            t1 = lb['send'][0]
            acc = []
            for a in ('a1','a2','a3'):
                ab = nb(a, t1, 'send')
                if ab: acc.append((ab['send'][0], ab))
            if len(acc) < 2: continue
            acc.sort(key=lambda x: x[0])
            t2 = acc[1][0]
            ab = acc[1][1]
            for l in ('l1','l2'):
                lb2 = nb(l, t2, 'write')
                if not lb2: continue
                t3 = lb2['write'][0]
                h3a.append(lb2['recv'][0] - t2); h3b.append(t3 - lb2['recv'][0])
                h1.append(t1 - t0); h2.append(t2 - t1); h3.append(t3 - t2); tot.append(t3 - t0)
                hw.append(ab['recv'][0] - t1); hcommit.append(t2 - ab['recv'][0])
print(f"leader {leader}")
summ('client send -> leader 2A send', h1)
summ('2A send -> 2nd acceptor 2B send', h2)
summ('  of which 2A queued until acceptor reads', hw)
summ('  of which acceptor read -> 2B send (commit)', hcommit)
summ('2nd 2B -> learner print (write)', h3)
summ('  of which 2B queued until learner reads', h3a)
summ('  of which learner read -> print', h3b)
summ('total client send -> print', tot)

def wakelat(r, senders):
    ws = [(st, en) for (st, en, n, _) in events[r] if n in ('epoll_wait','epoll_pwait')]
    starts = [w[0] for w in ws]
    out = []
    for s in senders:
        for (st, en, n, ret) in events.get(s, []):
            if n in ('sendmsg','sendmmsg') and ret > 0:
                i = bisect.bisect_right(starts, en) - 1
                if i >= 0 and ws[i][1] > en:
                    out.append(ws[i][1] - en)
    return out
for r, ss in (('l1',['a1','a2','a3']),('a1',[leader]),(leader,['c1','c2'])):
    summ(f'wake-up {r} <- {ss}', wakelat(r, ss))
