"""A real HTTP endpoint on 127.0.0.1 that keeps what is POSTed to it and answers with canned JSON."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class Recorder:
    def __init__(self, answers: dict[str, dict] | None = None, failures: int = 0):
        """`answers`: path → JSON body of the reply (default {}); the first `failures` POSTs get a 503."""
        received = self.received = []  # (path, headers, JSON body)
        self.refused = []
        refused = self.refused

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if len(refused) < failures:
                    refused.append(body)
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                received.append((self.path, dict(self.headers), body))
                reply = json.dumps((answers or {}).get(self.path, {})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def bodies(self) -> list[dict]:
        return [body for _, _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()


class SmtpRecorder:
    """A minimal real SMTP server on 127.0.0.1 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) keeping each mail."""

    def __init__(self):
        import socketserver

        mails = self.mails = []  # (sender, recipients, message text)

        class Session(socketserver.StreamRequestHandler):
            def handle(self):
                say = lambda line: self.wfile.write((line + "\r\n").encode())  # noqa: E731
                say("220 recorder")
                sender, recipients = None, []
                while line := self.rfile.readline().decode():
                    verb = line[:4].upper()
                    if verb == "EHLO":
                        say("250-recorder")
                        say("250 AUTH PLAIN")
                    elif verb == "AUTH":
                        say("235 ok")
                    elif verb == "MAIL":
                        sender = line.split(":", 1)[1].strip()
                        say("250 ok")
                    elif verb == "RCPT":
                        recipients.append(line.split(":", 1)[1].strip())
                        say("250 ok")
                    elif verb == "DATA":
                        say("354 go on")
                        data = []
                        while (part := self.rfile.readline().decode()) not in (".\r\n", ""):
                            data.append(part)
                        mails.append((sender, recipients, "".join(data)))
                        say("250 ok")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
