#!/usr/bin/env python3
"""Self-test stand-in for the cloudify binary: NOT the product.

It implements just the behaviour scripts/s6-harness.sh expects from `cloudify`, so the harness's
cloudify checks can be exercised before the real binary serves them:
  cloudify qr   -> prints a t.me deep link with ?start=<token>
  cloudify run  -> GET /healthz on CLOUDIFY_HTTP_LISTEN; long-polls TELEGRAM_API_URL; `/start
                   <token>` binds the sender (kept in $CLOUDIFY_DATA_DIR/fake-cloudify.json);
                   `/status` answers bound users with OpenCode's version from /global/health
                   (OPENCODE_URL, OPENCODE_SERVER_PASSWORD), others with how to bind.
Run: CLOUDIFY_BIN=tests/s6/fake_cloudify.py S6_HARNESS_CLOUDIFY=require scripts/s6-harness.sh
"""
import base64
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "s6HarnessFakeToken_0123456789"
DATA = os.environ.get("CLOUDIFY_DATA_DIR", "./data")
STATE = os.path.join(DATA, "fake-cloudify.json")


def api(method, **params):
    url = f"{os.environ['TELEGRAM_API_URL']}/bot{os.environ['TELEGRAM_TOKEN']}/{method}"
    req = urllib.request.Request(url, data=json.dumps(params).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=40) as r:
        return json.load(r)["result"]


def opencode_version():
    req = urllib.request.Request(os.environ["OPENCODE_URL"].rstrip("/") + "/global/health")
    pw = os.environ.get("OPENCODE_SERVER_PASSWORD")
    if pw:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"opencode:{pw}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return json.load(r).get("version", "?")
    except OSError:
        return None


def bound():
    try:
        return set(json.load(open(STATE)))
    except (OSError, ValueError):
        return set()


def poll():
    offset = 0
    api("getMe")
    while True:
        try:
            for u in api("getUpdates", offset=offset, timeout=10):
                offset = u["update_id"] + 1
                msg = u.get("message") or {}
                uid, text = msg.get("from", {}).get("id"), msg.get("text", "")
                if text == f"/start {TOKEN}":
                    json.dump(sorted(bound() | {uid}), open(STATE, "w"))
                    api("sendMessage", chat_id=uid, text="bound")
                elif text == "/status":
                    if uid in bound():
                        v = opencode_version()
                        api("sendMessage", chat_id=uid, text=f"OpenCode {v}" if v else "OpenCode down")
                    else:
                        api("sendMessage", chat_id=uid, text="not bound: scan the QR")
        except OSError:
            time.sleep(1)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "qr":
        print(f"https://t.me/cloudify_test_bot?start={TOKEN}")
        return 0
    if cmd != "run":
        print(f"fake cloudify: unsupported {sys.argv[1:]}", file=sys.stderr)
        return 2

    class H(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    host, port = os.environ.get("CLOUDIFY_HTTP_LISTEN", "127.0.0.1:4097").rsplit(":", 1)
    threading.Thread(target=poll, daemon=True).start()
    ThreadingHTTPServer((host, int(port)), H).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
