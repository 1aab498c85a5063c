"""`python -m hopwire`: the `hopwire` command (bench, serve, get)."""

from ._cli import main

raise SystemExit(main())
