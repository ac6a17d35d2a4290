"""Cost of the pod reporter at 1000 events/s: `emit` latency on the training thread, and the
whole process's extra CPU per event (batching, spooling, JSON, HTTP) against a baseline loop
that emits nothing, measured in the same run. The app is a loopback server in another process.

usage: python bench/pod/reporter_bench.py [SECONDS]
"""

import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../core/src/script/pod"))
from reporter import Reporter

RATE = 1000


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def serve(port_queue):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def loop(seconds, rep):
    costs = []
    interval = 1.0 / RATE
    start_cpu = time.process_time()
    deadline = time.perf_counter()
    for step in range(RATE * seconds):
        t0 = time.perf_counter_ns()
        if rep is not None:
            rep.emit("log", step=step, loss=0.5, learning_rate=2e-4)
        costs.append(time.perf_counter_ns() - t0)
        deadline += interval
        time.sleep(max(0.0, deadline - time.perf_counter()))
    if rep is not None:
        rep.close(timeout=30.0)
    return costs, time.process_time() - start_cpu


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get()}/metrics"
    with tempfile.TemporaryDirectory() as state, open(os.devnull, "w") as out:
        _, base_cpu = loop(seconds, None)
        rep = Reporter(state, url, "token", "job-bench", 1, flush_s=1.0, heartbeat_s=30.0, out=out)
        costs, cpu = loop(seconds, rep.start())
        left = len(os.listdir(os.path.join(state, "outbox")))
    events = RATE * seconds
    costs_us = sorted(c / 1000 for c in costs)
    result = {
        "events": events,
        "emit_p50_us": round(statistics.median(costs_us), 2),
        "emit_p99_us": round(costs_us[int(len(costs_us) * 0.99)], 2),
        "extra_cpu_per_event_us": round((cpu - base_cpu) / events * 1e6, 1),
        "baseline_cpu_s": round(base_cpu, 3),
        "reporter_cpu_s": round(cpu, 3),
        "unsent_batches": left,
    }
    print(json.dumps(result))
    server.terminate()


if __name__ == "__main__":
    main()
