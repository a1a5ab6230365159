"""W&B's documentation examples for artifacts, registries and runs, run against Amphora."""
