"""The web app's command: listen on an address, load the model, serve until Ctrl+C.

    python -m mnist_dvc serve [--host 127.0.0.1] [--port 8000] [--allow-host NAME] [--model FILE] [--own DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from pathlib import Path

from mnist_dvc.commands import Parser
from mnist_dvc.errors import UserError, one_line, raise_if_interrupted, run_main
from mnist_dvc.own import OWN
from mnist_dvc.paths import MODEL
from mnist_dvc.server.app import create_app
from mnist_dvc.server.guard import LOCAL_NAMES, WILDCARDS, allowed_hosts

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"the port must be a whole number in 0..65535, got {text[:20]!r}")
    return int(text)


def host_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or any(not name.isprintable() or " " in name for name in names):
        raise argparse.ArgumentTypeError(f"give host names separated by commas, got {text[:40]!r}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="python -m mnist_dvc serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=port_number, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--allow-host", type=host_names, action="extend", default=[], metavar="NAME",
                        help="another name (or name:port) the app may be reached by, e.g. this machine's name "
                             "on the network; may be repeated or comma-separated. Requests naming any other "
                             f"host than the address listened on and {', '.join(LOCAL_NAMES)} are refused")
    parser.add_argument("--model", type=Path, default=MODEL, help=f"the trained model (default {MODEL})")
    parser.add_argument("--own", type=Path, default=OWN,
                        help=f"where drawings labelled on the page are kept, in folders 0-9 (default {OWN})")
    return parser.parse_args(argv)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, so a taken port is reported before the model is loaded.

    It is made with its protocol named, TCP: asyncio turns Nagle's algorithm off only on connections
    whose socket says it is TCP (socket.create_server leaves the protocol 0). With it on, each answer's
    body, written after its headers, waited for the client's delayed acknowledgement: 40 ms a request
    on a connection kept open, as browsers keep theirs.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = None
    try:
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        if os.name == "posix":  # as socket.create_server: the port of a server just stopped can be taken again
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
        return sock
    except OSError as error:
        reason = f"{error.strerror or error}; choose another with `make serve PORT=8765`"
    except OverflowError:
        reason = "the port must be in 0..65535"
    if sock is not None:
        sock.close()
    raise UserError(f"cannot listen on {host}:{port}: {reason}")


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sock = listen(args.host, args.port)
    import uvicorn  # here, not at the top: a mistake in the arguments is reported without loading it

    port = sock.getsockname()[1]
    app = create_app(args.model, own=args.own, hosts=allowed_hosts(args.host, port, args.allow_host))
    status = app.state.reader.health()
    if status["model_loaded"]:
        print(one_line(f"model: {status['model']} (md5 {status['md5']})"))
    else:
        print(one_line(f"no model yet: {status['error']}; the page will say to run `make repro`"))
    if args.host not in LOCAL_HOSTS:
        print(f"warning: listening on {one_line(args.host)}: anyone who can reach this machine on port {port} "
              "can use the app")
    if args.host in WILDCARDS and not args.allow_host:
        print("warning: only requests naming localhost, 127.0.0.1 or [::1] are answered; give the names others use "
              "for this machine with --allow-host")
    raise_if_interrupted()  # a Ctrl-C while starting up, held back by the import system: uvicorn would miss it
    print(f"ready: open {address(sock)} in a browser (Ctrl+C stops)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops cleanly, then passes the signal on
        uvicorn.Server(config).run(sockets=[sock])
    # Each sample was written whole when it was labelled: stopping interrupts no write.
    print("stopped", flush=True)
    raise SystemExit(0)


if __name__ == "__main__":
    run_main(main)
