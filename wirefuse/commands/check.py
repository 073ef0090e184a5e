"""`wirefuse check`: verify a proof certificate with the independent checker (no egglog).

    wirefuse check CERT.json [--json]

Exit 0: valid (prints a short summary of the stream form); 1: rejected (prints the reason and
the failing step or part); 2: the file cannot be read or is not JSON.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "check", help="verify a streamability certificate (independent of the prover)",
        description="Replay a certificate's rewrite steps with wirefuse's own Python rules, "
        "check its state, combine and tail (sympy) and stream random chunkings (float64). "
        "Does not need egglog.",
        epilog="example: wirefuse prove examples/attention.py:spherical --axes "
        '"q: b h i d, k: b h j d, v: b h j e" --stream j -o cert.json && wirefuse check cert.json')
    p.add_argument("certificate", metavar="CERT.json", help="the certificate to verify")
    p.add_argument("--json", action="store_true",
                   help='print one JSON object {"valid", "reason", "failed_step", "part"}')
    p.set_defaults(run=run)


def run(args) -> int:
    from wirefuse.theorems.checker import check_certificate, load_certificate
    from wirefuse.theorems.certificate import certificate_summary
    cert = load_certificate(args.certificate)
    result = check_certificate(cert)
    if args.json:
        print(json.dumps({"valid": result.ok, "reason": result.reason,
                          "failed_step": result.failed_step, "part": result.part}))
    elif result.ok:
        print(f"valid: {args.certificate}")
        print(certificate_summary(cert))
    else:
        where = f" (step {result.failed_step})" if result.failed_step is not None else ""
        print(f"rejected{where}: {result.reason}")
    return 0 if result.ok else 1
