"""`keyrack import-keys`: keys a team already has in production, from a JSON-lines file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.running import run
from app.keysets import imports
from app.keysets.keys import KeyMaterial
from app.keysets.models import KeySetScope
from app.settings import Settings, resolve_secrets

NOTHING_IMPORTED = "keyrack: nothing imported (--skip-invalid imports the good lines)"


def import_keys(settings: Settings, args: argparse.Namespace) -> int:
    try:
        lines = Path(args.file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        print(f"keyrack: cannot read {args.file}: {type(error).__name__}", file=sys.stderr)
        return 1
    scope = KeySetScope.SYSTEM if args.system is not None else KeySetScope.ORGANIZATION
    numbered, problems = imports.parse_lines(lines, scope=scope)
    for problem in problems:  # never the line itself: it may hold a key
        print(f"keyrack: line {problem.line}: {problem.message}", file=sys.stderr)
    if problems and not args.skip_invalid:
        print(NOTHING_IMPORTED, file=sys.stderr)
        return 1
    keys = KeyMaterial.derive_all(resolve_secrets(settings))

    refused = False

    async def import_all() -> None:
        nonlocal refused
        while True:  # all or nothing; with --skip-invalid, again without a refused line
            try:
                created = await imports.import_keys(
                    actor=None,
                    keys=keys,
                    organization_id=args.organization,
                    system_id=args.system,
                    entries=[entry for _, entry in numbered],
                )
            except imports.ImportRefused as exc:
                line, _ = numbered.pop(exc.index)
                print(f"keyrack: line {line}: {exc.message}", file=sys.stderr)
                if args.skip_invalid:
                    continue
                refused = True
                return
            print(f"imported {len(created)}")
            return

    status = run(settings, import_all)
    if refused:
        print(NOTHING_IMPORTED, file=sys.stderr)
        return 1
    return status
