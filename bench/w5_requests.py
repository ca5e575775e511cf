"""W5 for python requests: status reads of N distinct connectors on a ThreadPoolExecutor of 32,
one requests.Session per thread (a Session is not thread-safe).
    python3 bench/w5_requests.py BASE_URL N"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

base, n = sys.argv[1], int(sys.argv[2])
local = threading.local()
headers = {"Accept": "application/json", "Authorization": "Bearer bench-token-not-real"}


def read(i):
    session = getattr(local, "session", None)
    if session is None:
        session = local.session = requests.Session()
    url = f"{base}/connect/v1/environments/env-bench/clusters/lkc-bench/connectors/w5-{i:03d}/status"
    r = session.get(url, headers=headers, timeout=30)
    r.raise_for_status()
    return r.json()["connector"]["state"]


started = time.monotonic()
with ThreadPoolExecutor(max_workers=32) as pool:
    states = list(pool.map(read, range(1, n + 1)))
seconds = time.monotonic() - started
running = sum(1 for s in states if s == "RUNNING")
print(f"result contender=python-requests-threads-32 workload=W5 n={n} running={running} seconds={seconds:.6f}")
