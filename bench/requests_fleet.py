"""W2/W4 in Python: requests.Session + .json() over the expanded list, FAILED connectors counted.

    python3 bench/requests_fleet.py URL CLUSTER
"""
import sys
import time

import requests


def main():
    url, cluster = sys.argv[1], sys.argv[2]
    session = requests.Session()
    session.auth = ("BENCHKEY0123456789", "bench-secret-not-real")
    session.headers["Accept"] = "application/json"
    started = time.perf_counter()
    r = session.get(url)
    r.raise_for_status()
    fleet = r.json()
    failed = 0
    for c in fleet.values():
        st = c["status"]
        if st["connector"]["state"] == "FAILED" or any(t["state"] == "FAILED" for t in st["tasks"]):
            failed += 1
    seconds = time.perf_counter() - started
    print(f"result contender=python-requests workload=W2 cluster={cluster} n={len(fleet)} "
          f"seconds={seconds:.6f} failed={failed}")


main()
