#!/usr/bin/env python3
"""Minimal fake Telegram Bot API for scripts/s6-harness.sh (stdlib only).

It speaks enough of the Bot API for a bot to start, long-poll and reply: getMe, getUpdates (long
polling with offset confirmation, like Telegram), send*/edit* (answered with well-formed Message
objects), and `true` for every other method. Control endpoints for the harness:
  POST /_test/inject {"from_id": 42, "text": "/status", "username": "alice"}  -> queue an update
  GET  /_test/calls?since=N                                                -> recorded calls
The harness only needs traffic to flow; the Rust fake in cloudify-testkit is the faithful one
(rate limits, 429, "message is not modified") used by the crate tests.
"""
import argparse
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOT = {"id": 7000001, "is_bot": True, "first_name": "Cloudify Test", "username": "cloudify_test_bot",
       "can_join_groups": True, "can_read_all_group_messages": False,
       "supports_inline_queries": False, "can_connect_to_business": False,
       "has_main_web_app": False}
PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
FIELD = re.compile(rb'Content-Disposition: form-data; name="([^"]+)"\r\n\r\n(.*?)\r\n--', re.S)


class State:
    def __init__(self):
        self.cond = threading.Condition()
        self.updates = []          # unconfirmed updates
        self.next_update = 1
        self.next_message = 1
        self.calls = []            # every API call, in order

    def inject(self, from_id, text, username):
        with self.cond:
            mid = self.next_message
            self.next_message += 1
            user = {"id": from_id, "is_bot": False, "first_name": username or f"user{from_id}",
                    "username": username or f"user{from_id}", "language_code": "en"}
            update = {"update_id": self.next_update,
                      "message": {"message_id": mid, "date": int(time.time()),
                                  "chat": {"id": from_id, "type": "private",
                                           "first_name": user["first_name"],
                                           "username": user["username"]},
                                  "from": user, "text": text}}
            if text.startswith("/"):
                cmd = text.split()[0]
                update["message"]["entities"] = [{"type": "bot_command", "offset": 0,
                                                  "length": len(cmd)}]
            self.next_update += 1
            self.updates.append(update)
            self.cond.notify_all()
            return update["update_id"]

    def get_updates(self, offset, timeout):
        deadline = time.monotonic() + min(max(timeout, 0), 25)
        with self.cond:
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
            return list(self.updates)

    def message(self, params, method):
        with self.cond:
            mid = self.next_message
            self.next_message += 1
        chat_id = params.get("chat_id", 0)
        try:
            chat_id = int(chat_id)
        except (TypeError, ValueError):
            pass
        msg = {"message_id": int(params.get("message_id", mid)), "date": int(time.time()),
               "chat": {"id": chat_id, "type": "private", "first_name": "user"},
               "from": {k: BOT[k] for k in ("id", "is_bot", "first_name", "username")}}
        if "text" in params:
            msg["text"] = params["text"]
        if method in ("sendPhoto", "sendMediaGroup"):
            msg["photo"] = [{"file_id": f"photo{mid}", "file_unique_id": f"u{mid}",
                             "width": 1, "height": 1, "file_size": 1}]
        if method == "sendDocument":
            msg["document"] = {"file_id": f"doc{mid}", "file_unique_id": f"d{mid}"}
        if "caption" in params:
            msg["caption"] = params["caption"]
        return msg


STATE = State()


def parse_params(handler):
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    ctype = handler.headers.get("Content-Type", "")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(handler.path).query))
    if "json" in ctype and body:
        params.update(json.loads(body))
    elif "x-www-form-urlencoded" in ctype:
        params.update(urllib.parse.parse_qsl(body.decode()))
    elif "multipart/form-data" in ctype:
        for name, value in FIELD.findall(body):
            if len(value) < 10000:
                params[name.decode()] = value.decode(errors="replace")
    return params


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self.handle_any()

    def do_POST(self):  # noqa: N802
        self.handle_any()

    def handle_any(self):
        path = urllib.parse.urlsplit(self.path).path
        params = parse_params(self)
        if path == "/_test/inject":
            uid = STATE.inject(int(params["from_id"]), params["text"], params.get("username"))
            return self.reply(200, {"ok": True, "update_id": uid})
        if path == "/_test/calls":
            since = int(params.get("since", 0))
            with STATE.cond:
                calls = STATE.calls[since:]
            return self.reply(200, {"ok": True, "total": since + len(calls), "calls": calls})
        m = PATH.match(path)
        if not m:
            return self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        # Bot API method names are case-insensitive; teloxide sends PascalCase (GetMe).
        raw = m.group("method")
        method = raw[:1].lower() + raw[1:]
        record = {"method": method}
        for key in ("chat_id", "text", "caption", "offset"):
            if key in params:
                record[key] = params[key]
        with STATE.cond:
            STATE.calls.append(record)
        if method == "getMe":
            return self.reply(200, {"ok": True, "result": BOT})
        if method == "getUpdates":
            result = STATE.get_updates(int(params.get("offset", 0) or 0),
                                       int(params.get("timeout", 0) or 0))
            return self.reply(200, {"ok": True, "result": result})
        if method == "getWebhookInfo":
            return self.reply(200, {"ok": True, "result": {"url": "", "has_custom_certificate": False,
                                                           "pending_update_count": 0}})
        if method == "getMyCommands":
            return self.reply(200, {"ok": True, "result": []})
        if method == "sendMediaGroup":
            return self.reply(200, {"ok": True, "result": [STATE.message(params, method)]})
        if method.startswith("send") and method != "sendChatAction" or method.startswith("edit"):
            return self.reply(200, {"ok": True, "result": STATE.message(params, method)})
        return self.reply(200, {"ok": True, "result": True})

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"fake-bot-api: listening on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
