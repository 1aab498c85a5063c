"""`hopwire bench`: hopwire side by side with the HTTP/1.x libraries people use today.

Two parts, each gated on correctness before anything is timed:

- parsers (`workloads`, `parser_peers`, `parsers`): hopwire's C and Python
  twins, httptools, aiohttp's C and Python parsers and h11, each handed the
  same bytes and made to return the same method, target, headers and body;
- connection pools (`pool_peers`, `pools`): hopwire's Pool and AsyncPool,
  urllib3, requests, httpx, aiohttp, http.client and a raw-socket floor
  (AsyncPool and the asyncio floor also on uvloop, when it is installed),
  against nginx on 127.0.0.1 (`nginx`) or hopwire's embedded server
  (`target`), every response checked.

`runner` puts them together for the command line, `report` prints the
tables, `plot` draws them (matplotlib, optional). Peers that are not
installed are reported as such; they never fail a run.
"""
