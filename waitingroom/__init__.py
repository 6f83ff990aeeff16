"""The virtual waiting room: positions, the serving position, the admission controller, tokens.

Pure decision logic (no I/O, no clock, seeded randomness only): config, errors,
permutation, rate, eta, pow, tickets, tokens, status. Redis side: keys,
scripts, room (`WaitingRoom`), controller (`AdmissionController`); keyfile reads
the signing key. Import what you need from the submodules; this package
imports nothing so that the pure modules stay importable without Redis.
"""
