#!/usr/bin/env python3
"""Stand-in for ttyd in scripts/s6-harness.sh (ttyd is not packaged for Debian bookworm).

Accepts ttyd's command line, refuses to start unless the flags our packaging promises are there
(--writable, --check-origin, --credential user:pass, --port, a command to run), then serves HTTP
on 127.0.0.1:<port>: 401 without the right Basic credentials, 200 with them. Like ttyd it runs
in the foreground until SIGTERM.
"""
import base64
import http.server
import signal
import sys

REQUIRED = {"--writable", "--check-origin", "--credential", "--port"}
WITH_VALUE = {"-p", "--port", "-c", "--credential", "-i", "--interface", "-m", "--max-clients",
              "-w", "--cwd", "-t", "--client-option", "-b", "--base-path", "-T", "--terminal-type",
              "-u", "--uid", "-g", "--gid", "-H", "--auth-header", "-P", "--ping-interval"}
SHORT = {"-p": "--port", "-c": "--credential", "-W": "--writable", "-O": "--check-origin",
         "-a": "--url-arg"}


def parse(argv):
    opts, i = {}, 0
    while i < len(argv) and argv[i].startswith("-"):
        flag = SHORT.get(argv[i], argv[i])
        if argv[i] in WITH_VALUE:
            opts.setdefault(flag, []).append(argv[i + 1])
            i += 2
        else:
            opts.setdefault(flag, []).append(True)
            i += 1
    return opts, argv[i:]


def main():
    opts, command = parse(sys.argv[1:])
    missing = sorted(REQUIRED - opts.keys())
    if missing or not command:
        print(f"fake-ttyd: refusing to start: missing {missing or 'command'}", file=sys.stderr)
        return 2
    if "--url-arg" in opts:
        print("fake-ttyd: refusing --url-arg (command injection surface)", file=sys.stderr)
        return 2
    expected = "Basic " + base64.b64encode(opts["--credential"][0].encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="ttyd"')
                self.end_headers()
                return
            body = b"<html><title>fake ttyd</title></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", int(opts["--port"][0])), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"fake-ttyd: listening on {opts['--port'][0]}, command {command}", file=sys.stderr)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
