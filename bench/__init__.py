"""Cairn's benchmark: a seeded dataset, the real server over HTTP, statements per request,
latency and throughput. Run `python -m bench.run --help`."""
