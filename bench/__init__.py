"""wirechat's benchmark suite: fan-out and idle-connection scenarios against peer servers.

Run ``uv run python -m bench --help``. Every number is reported next to peers measured in the same
run, through the same load generator, because these machines are shared and noisy: ratios hold
up where absolute numbers do not.
"""
