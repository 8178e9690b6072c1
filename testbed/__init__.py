"""What the tests, benchmarks and scripts share: a throwaway PostgreSQL cluster, free ports.

Stdlib only, and nothing here imports pytest: bench/ and scripts/ use it too.
"""
