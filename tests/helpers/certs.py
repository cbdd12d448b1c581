"""Real certificates for TLS tests, made by trustme."""

from __future__ import annotations

from pathlib import Path

import trustme


class Certs:
    """A CA, a server certificate for 127.0.0.1 and localhost signed by it, and another CA."""

    def __init__(self, where: Path) -> None:
        ca = trustme.CA()
        issued = ca.issue_cert("127.0.0.1", "localhost")
        self.ca = where / "ca.pem"
        self.cert = where / "cert.pem"
        self.key = where / "key.pem"
        self.other_ca = where / "other-ca.pem"
        self.other_key = where / "other-key.pem"
        ca.cert_pem.write_to_path(str(self.ca))
        issued.cert_chain_pems[0].write_to_path(str(self.cert))
        for pem in issued.cert_chain_pems[1:]:
            pem.write_to_path(str(self.cert), append=True)
        issued.private_key_pem.write_to_path(str(self.key))
        other = trustme.CA()
        other.cert_pem.write_to_path(str(self.other_ca))
        other.issue_cert("127.0.0.1").private_key_pem.write_to_path(str(self.other_key))
