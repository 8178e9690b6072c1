"""Concurrent key-set changes on PostgreSQL, with the database restarted mid-run.

Starts `keyrack serve` (one uvicorn process, default settings) against a throwaway
PostgreSQL server, signs up an owner, creates an organization and a system, then runs
--clients concurrent clients for --duration seconds. Each client loops: createKeySet
(organization and system scope in turn), one to three regenerateKey on a random slot,
then revokeKeySet for most sets, confirming the label each time. At a third of the run
PostgreSQL is stopped (`pg_ctl stop -m fast`), kept down --outage seconds and started
again; keyrack is not restarted. /readyz is polled throughout. `--stop-mode freeze`
SIGSTOPs the server's processes instead (and SIGCONTs them): open connections then get
no answer at all, as when the network to the database fails.

Every answer is sorted into acknowledged (HTTP 200, no errors, no userErrors), refused
(userErrors: nothing changed) or unknown outcome (an error answer, or none). Afterwards
the database itself is read (key_sets, api_keys, audit_entries) and checked:

- lost: an acknowledged change missing from the key sets, the keys or the audit chain;
- phantom: an audit entry no acknowledged or unknown-outcome operation explains;
- inconsistent: stored state that disagrees with the audit chain's last word;

and the public API is held against it: `auditIntegrity` and `keyrack audit verify` must
reach exactly the head the database read showed (nothing writes then), then the
organization's key sets and /v1/keys/verify for every acknowledged key. Presenting a
replaced or revoked key again is audited (REPLACED_KEY_PRESENTED, written in the
background), so both chain checks run once more afterwards: each must reach at least the
head read before it and at most the one read after it, and the entries appended must be
REPLACED_KEY_PRESENTED only, at most one per dead key presented.

    python -m bench.load_faults [--duration 30] [--clients 16] [--outage 5]
                                [--stop-mode fast|immediate|freeze] [--seed N]
                                [--database-timeout 3]

PostgreSQL runs with synchronous_commit=on here (the test suite's cluster has it off);
with `--synchronous-commit off --stop-mode immediate` PostgreSQL itself may forget the
last few commits it acknowledged, and the checks report them lost.

Exits 1 if anything was lost, phantom or inconsistent, the audit chain is broken, the
API disagrees with the database, a mutation took longer than --hang-after seconds or a
/readyz longer than --ready-within (or got no answer), or keyrack did not recover.
Needs PostgreSQL server binaries.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python -m bench.load_faults` from the repository; the app and the test
# cluster helpers are imported from the checkout.
ROOT = Path(__file__).resolve().parent.parent.parent
sys.path[:0] = [str(ROOT)]
