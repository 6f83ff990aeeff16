"""The booking benchmark: onsale against lock-based baselines on one hot event.

`workload` says what is sold and who asks, `harness` drives one contender with
client processes and measures it, `contender` is the interface every
contender implements, and one module per baseline implements it the way its
best practitioners would. `loadtests/bench_booking.py` runs them all.
"""
