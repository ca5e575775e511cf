"""W1 in Python: requests.Session (keep-alive) + .json().

    python3 bench/requests_poll.py URL N
"""
import sys
import time

import requests


def main():
    url, n = sys.argv[1], int(sys.argv[2])
    session = requests.Session()
    session.auth = ("BENCHKEY0123456789", "bench-secret-not-real")
    session.headers["Accept"] = "application/json"
    running = 0
    started = time.perf_counter()
    for _ in range(n):
        r = session.get(url)
        r.raise_for_status()
        if r.json()["connector"]["state"] == "RUNNING":
            running += 1
    seconds = time.perf_counter() - started
    print(f"result contender=python-requests workload=W1 n={n} seconds={seconds:.6f} ok={running}")
    if running != n:
        sys.exit(f"requests_poll: {running} of {n} reads said RUNNING")


main()
