#!/usr/bin/env python3
# CPU and wall time per start of two commands, alternated A B B A so that a drifting
# machine hits both alike: CPU is user+sys of each whole process tree (wait4 rusage), which a
# busy machine disturbs less than wall time.
#
#   bench/cpucost.py "OLD/nook run --ro-bind / / true" "NEW/nook run --ro-bind / / true" 400
import os, sys, time
a, b, n = sys.argv[1].split(), sys.argv[2].split(), int(sys.argv[3])
res = {0: [0.0, 0.0, []], 1: [0.0, 0.0, []]}
for i in range(2 * n):
    k = (i + (i // 2)) % 2  # ABBA ordering
    cmd = a if k == 0 else b
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, 1); os.dup2(fd, 2)
        os.execv(cmd[0], cmd)
    _, st, ru = os.wait4(pid, 0)
    w = time.perf_counter() - t0
    res[k][0] += ru.ru_utime + ru.ru_stime
    res[k][1] += w
    res[k][2].append(w)
for k, name in ((0, "A"), (1, "B")):
    ws = sorted(res[k][2])
    print("%s: cpu %.3f ms  wall mean %.3f ms  wall median %.3f ms" % (name, res[k][0] / n * 1e3, res[k][1] / n * 1e3, ws[len(ws)//2] * 1e3))
