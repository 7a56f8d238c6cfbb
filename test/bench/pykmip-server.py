#!/usr/bin/python3
"""Runs PyKMIP's KMIP server (Debian python3-pykmip) as the peer kmipd is measured against.

Everything lives in one folder: the SQLite store, an empty operation policy folder and the log; no file
under /etc or /var is read or written. TLS is PyKMIP's "TLS1.2" authentication suite with the certificates
of etc/mkcerts.sh, mutual TLS required, as kmipd is configured by the benchmark scripts.

Usage: pykmip-server.py --dir DIR --certs CERTDIR [--host 127.0.0.1] [--port 5696] [--log-level WARNING]

Prints "ready HOST PORT" on stdout once the socket listens, then serves until SIGTERM or SIGINT. PyKMIP's
own accept loop only notices the signal at its next one-second-or-so timeout; the benchmark scripts stop it
by its process group.
"""

import argparse
import logging
import os
import sys

from kmip.services.server import server as kmip_server


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True, help="folder for the store, policies and log")
    p.add_argument("--certs", required=True, help="folder of etc/mkcerts.sh output")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5696)
    p.add_argument("--log-level", default="WARNING",
                   help="PyKMIP logging level (its default is INFO: one line per request)")
    a = p.parse_args()

    policies = os.path.join(a.dir, "policies")
    os.makedirs(policies, exist_ok=True)
    srv = kmip_server.KmipServer(
        hostname=a.host,
        port=a.port,
        certificate_path=os.path.join(a.certs, "server.crt"),
        key_path=os.path.join(a.certs, "server.key"),
        ca_path=os.path.join(a.certs, "ca.crt"),
        auth_suite="TLS1.2",
        config_path=None,                       # no /etc/pykmip/server.conf
        log_path=os.path.join(a.dir, "server.log"),
        policy_path=policies,
        enable_tls_client_auth=True,
        logging_level=a.log_level,
        live_policies=False,
        database_path=os.path.join(a.dir, "pykmip.db"),
    )
    # The constructor sets its own logger to DEBUG before applying the configured level on the next line;
    # quiet the rest of the kmip.* loggers the same way.
    logging.getLogger("kmip").setLevel(getattr(logging, a.log_level.upper(), logging.WARNING))
    srv.start()
    print("ready %s %d" % (a.host, a.port), flush=True)
    try:
        srv.serve()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
