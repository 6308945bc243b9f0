#!/usr/bin/env python3
"""fake_fmp.py - a fake Financial Modeling Prep quote server for capalloc's
tests and benchmark.

Why Python (stdlib only, http.server.ThreadingHTTPServer): the fake must
speak real HTTP/1.1 with keep-alive to a real libcurl, answer many requests
at once (to measure the client's concurrency) and be told to misbehave; in
Python that is a short, readable file with no dependency beyond python3
(added to scripts/deps), while a C server would be a second HTTP
implementation to debug. It is test equipment, never linked into capalloc.

Serves the real paths and shapes (the bodies below are FMP's documented
ones: error messages verbatim, quote objects with the documented fields):
  GET /stable/batch-quote?symbols=A,B&apikey=K   array of full quotes
  GET /stable/quote?symbol=A&apikey=K            array of one quote (or [])
  GET /api/v3/quote/A,B?apikey=K                 legacy array
Errors use FMP's bodies: {"Error Message": "..."}.

Start:  python3 fake_fmp.py [--prices FILE] [--generate]
  Listens on 127.0.0.1, an ephemeral port; prints "PORT <n>" as the first
  line on stdout. The expected API key comes from the environment variable
  FAKE_FMP_KEY (never from the command line); when set, any other key gets
  HTTP 401 with FMP's invalid-key body.
  --prices FILE   CSV ticker,price: the price text is sent exactly as
                  written (the client must not lose digits)
  --generate      any symbol not in the file gets a price derived from its
                  name (for the benchmark)

Control (JSON over HTTP, never counted as data requests):
  POST /_control   {"latency_ms": 20, "fail": "429", "fail_count": 2, ...}
                   merges settings (see DEFAULTS); "reset": true also zeroes
                   the counters
  GET  /_stats     {"requests", "max_inflight", "connections", "paths",
                    "by_status"}
Faults ("fail"):
  none       answer normally
  429        the next fail_count data requests get 429 (rate-limit body),
             then normal answers
  500        the next fail_count data requests get 500
  limit200   the next fail_count data requests get FMP's "Limit Reach"
             error object with status 200 (as FMP sometimes sends it)
  weird      the next fail_count data requests get a garbled HTTP answer (a
             header line without a colon: libcurl's WEIRD_SERVER_REPLY)
  hang       data requests sleep hang_ms before answering
  notjson    200 with an HTML body
  error200   200 with the invalid-key error object
  legacy403  /api/v3 answers 403 with the legacy-endpoint body
  echo404    404 with an HTML body echoing the request as received (the
             key included), after echo_pad characters of padding
  echo400    400 with {"Error Message": padding + the request as received}
Other settings: refuse_batch (402 on batch endpoints), refuse_symbols
(402 on single quotes of those symbols), omit (symbols left out of every
answer), latency_ms (sleep per data request), override ({"AAPL": "0"}:
the price text sent for those symbols instead), raw ({"X": "{...}"}: the
quote object sent for X, verbatim).
"""
import argparse
import json
import sys
import threading
import time
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs, unquote

ERR_KEY = ('Invalid API KEY. Feel free to create a Free API Key or visit '
           'https://site.financialmodelingprep.com/faqs?search=why-is-my-api-'
           'key-invalid for more information.')
ERR_LEGACY = ('Legacy Endpoint : Due to Legacy endpoints being no longer '
              'supported - This endpoint is only available for legacy users '
              'who have valid subscriptions prior August 31, 2025. Please '
              'visit our subscription page to upgrade your plan at '
              'https://site.financialmodelingprep.com/developer/docs/pricing')
ERR_PREMIUM = ("Premium Query Parameter: 'Special Endpoint : This value set "
               "for 'symbol' is not available under your current "
               "subscription please visit our subscription page to upgrade "
               "your plan at https://site.financialmodelingprep.com/"
               "developer/docs/pricing")
ERR_LIMIT = ('Limit Reach . Please upgrade your plan or visit our '
             'documentation for more details at '
             'https://site.financialmodelingprep.com/')

DEFAULTS = {
    "fail": "none", "fail_count": 0, "hang_ms": 5000, "latency_ms": 0,
    "refuse_batch": False, "refuse_symbols": [], "omit": [],
    "echo_pad": 0, "override": {}, "raw": {},
}


class State:
    def __init__(self, prices, generate, key):
        self.lock = threading.Lock()
        self.prices = prices
        self.generate = generate
        self.key = key
        self.settings = dict(DEFAULTS)
        self.reset_counters()

    def reset_counters(self):
        self.requests = 0
        self.inflight = 0
        self.max_inflight = 0
        self.connections = 0
        self.paths = []
        self.by_status = {}


def price_text(state, sym):
    if sym in state.prices:
        return state.prices[sym]
    if state.generate:
        # deterministic, exact: 10 + (sum of the name's bytes) / 100
        return "%d.%02d" % (10 + sum(sym.encode()) // 100,
                            sum(sym.encode()) % 100)
    return None


def quote_json(sym, ptext, legacy):
    # The price goes out as its exact text: build the object by hand.
    pct = '"changesPercentage"' if legacy else '"changePercentage"'
    return ('{"symbol":%s,"name":%s,"price":%s,%s:-0.48189,"change":-1.3,'
            '"volume":45140079,"dayLow":266.82,"dayHigh":272.29,'
            '"yearHigh":277.32,"yearLow":169.21,"marketCap":3967020108000,'
            '"priceAvg50":252.2522,"priceAvg200":224.3975,'
            '"exchange":"NASDAQ","open":269.795,"previousClose":269.77,'
            '"timestamp":1762549202}'
            % (json.dumps(sym), json.dumps(sym + " Inc."), ptext, pct))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: connections are reused
    disable_nagle_algorithm = True  # headers and body are two writes
    server_version = "fake_fmp/1.0"

    def log_message(self, fmt, *args):  # quiet: tests read stdout
        pass

    def setup(self):
        super().setup()
        st = self.server.state
        with st.lock:
            st.connections += 1

    def send(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b"{}"
        if self.path != "/_control":
            return self.send(404, '{"error":"not found"}')
        try:
            cmd = json.loads(body)
        except ValueError:
            return self.send(400, '{"error":"bad json"}')
        with st.lock:
            if cmd.pop("reset", False):
                st.settings = dict(DEFAULTS)
                st.reset_counters()
            for k, v in cmd.items():
                if k not in DEFAULTS:
                    return self.send(400, json.dumps({"error": "unknown " + k}))
                st.settings[k] = v
        self.send(200, json.dumps(st.settings))

    def do_GET(self):
        st = self.server.state
        url = urlsplit(self.path)
        if url.path == "/_stats":
            with st.lock:
                return self.send(200, json.dumps({
                    "requests": st.requests, "max_inflight": st.max_inflight,
                    "connections": st.connections, "paths": st.paths,
                    "by_status": st.by_status}))
        with st.lock:
            st.requests += 1
            st.inflight += 1
            st.max_inflight = max(st.max_inflight, st.inflight)
            # the path as seen, key redacted: tests check what was asked
            q = parse_qs(url.query)
            st.paths.append(url.path + "?" + "&".join(
                "%s=%s" % (k, "***" if k == "apikey" else ",".join(v))
                for k, v in sorted(q.items())))
            s = dict(st.settings)
            fault = s["fail"]
            if fault in ("429", "500", "weird", "limit200"):
                if s["fail_count"] > 0:
                    st.settings["fail_count"] -= 1
                else:
                    fault = "none"
        status = 500
        counted = False
        try:
            if s["latency_ms"]:
                time.sleep(s["latency_ms"] / 1000.0)
            status, body = self.answer(st, url, q, s, fault)
            if fault == "hang":
                time.sleep(s["hang_ms"] / 1000.0)
            if fault == "weird":
                with st.lock:
                    st.by_status["weird"] = st.by_status.get("weird", 0) + 1
                    st.inflight -= 1
                    counted = True
                self.close_connection = True
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                     b"this header has no colon\r\n\r\n[]")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            ctype = ("text/html" if fault in ("notjson", "echo404")
                     else "application/json")
            # Counted (and out of flight) before the answer leaves: a client
            # that has its answer and asks /_stats, or sends its next
            # request, must find this one done.
            with st.lock:
                st.by_status[str(status)] = st.by_status.get(str(status), 0) + 1
                st.inflight -= 1
                counted = True
            self.send(status, body, ctype)
        finally:
            if not counted:
                with st.lock:
                    st.inflight -= 1

    def answer(self, st, url, q, s, fault):
        key = (q.get("apikey") or [""])[0]
        if st.key is not None and key != st.key:
            return 401, json.dumps({"Error Message": ERR_KEY})
        if fault == "429":
            return 429, json.dumps({"Error Message": ERR_LIMIT})
        if fault == "500":
            return 500, '{"error":"internal"}'
        if fault == "limit200":
            return 200, json.dumps({"Error Message": ERR_LIMIT})
        if fault == "notjson":
            return 200, "<html><body>502 Bad Gateway</body></html>"
        if fault == "error200":
            return 200, json.dumps({"Error Message": ERR_KEY})
        if fault == "echo404":
            # a misconfigured proxy echoing what it got, key and all
            return 404, ("<html>" + "x" * s["echo_pad"] + "GET " + self.path +
                         " not found</html>")
        if fault == "echo400":
            return 400, json.dumps({"Error Message": "y" * s["echo_pad"] +
                                    "bad request: " + self.path})
        legacy = url.path.startswith("/api/v3/quote/")
        if legacy:
            if fault == "legacy403":
                return 403, json.dumps({"Error Message": ERR_LEGACY})
            syms = [unquote(x) for x in url.path[len("/api/v3/quote/"):].split(",")]
            batch = len(syms) > 1
        elif url.path in ("/stable/batch-quote", "/stable/batch-quote-short"):
            syms = (q.get("symbols") or [""])[0].split(",")
            batch = True
        elif url.path in ("/stable/quote", "/stable/quote-short"):
            syms = [(q.get("symbol") or [""])[0]]
            batch = False
        else:
            return 404, json.dumps({"Error Message": "not found"})
        if batch and s["refuse_batch"]:
            return 402, json.dumps({"Error Message": ERR_PREMIUM})
        if not batch and syms[0] in s["refuse_symbols"]:
            return 402, json.dumps({"Error Message": ERR_PREMIUM})
        out = []
        for sym in syms:
            if sym in s["omit"]:
                continue
            if sym in s["raw"]:
                out.append(s["raw"][sym])
                continue
            p = s["override"].get(sym) or price_text(st, sym)
            if p is not None:
                out.append(quote_json(sym, p, legacy))
        return 200, "[" + ",".join(out) + "]"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the listen() backlog: set before bind


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prices")
    ap.add_argument("--generate", action="store_true")
    a = ap.parse_args()
    prices = {}
    if a.prices:
        with open(a.prices) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#") or line.lower() == "ticker,price":
                    continue
                t, p = line.split(",")
                prices[t.strip()] = p.strip()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(prices, a.generate, os.environ.get("FAKE_FMP_KEY"))
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
