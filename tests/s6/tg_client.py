#!/usr/bin/env python3
"""Harness-side client of tests/s6/fake_bot_api.py.

  tg_client.py URL inject FROM_ID TEXT      -> prints the index to wait from
  tg_client.py URL calls [METHOD]           -> prints how many calls (of METHOD) were recorded
  tg_client.py URL wait CHAT SINCE TIMEOUT [--contains S] [--not-equal TEXT]
      waits for a sendMessage/sendPhoto/editMessageText to CHAT after call index SINCE whose text
      matches; prints the matching text, exits 1 on timeout (printing what it saw on stderr).
"""
import json
import sys
import time
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def main():
    base, cmd, args = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3:]
    if cmd == "inject":
        # index before injecting, so replies are searched from here on
        total = get(f"{base}/_test/calls?since=0")["total"]
        body = json.dumps({"from_id": int(args[0]), "text": args[1],
                           "username": f"user{args[0]}"}).encode()
        req = urllib.request.Request(f"{base}/_test/inject", data=body,
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
        print(total)
        return 0
    if cmd == "calls":
        calls = get(f"{base}/_test/calls?since=0")["calls"]
        print(sum(1 for c in calls if not args or c["method"] == args[0]))
        return 0
    if cmd == "wait":
        chat, since, timeout = args[0], int(args[1]), float(args[2])
        contains = args[args.index("--contains") + 1] if "--contains" in args else None
        not_equal = args[args.index("--not-equal") + 1] if "--not-equal" in args else None
        deadline, seen = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            seen = [c for c in get(f"{base}/_test/calls?since={since}")["calls"]
                    if str(c.get("chat_id")) == chat
                    and c["method"] in ("sendMessage", "sendPhoto", "sendDocument",
                                        "editMessageText", "editMessageCaption")]
            for c in seen:
                text = c.get("text") or c.get("caption") or ""
                if (contains is None or contains in text) and (not_equal is None or text != not_equal):
                    print(text)
                    return 0
            time.sleep(0.3)
        print(f"no matching reply to chat {chat}; saw: {json.dumps(seen)[:2000]}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
