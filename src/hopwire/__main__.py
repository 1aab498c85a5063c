"""`python -m hopwire`: the `hopwire` command (bench, serve, get)."""

from .cli import main

raise SystemExit(main())
