"""`onsale chaos`: faults injected during a bounded surge, then the audit and a report.

catalog  the faults (what is done, to which process or server, for how long)
plan     one short surge per fault: users, timings (pure)
recovery per-second series -> time until p99 and throughput are back (pure)
table    the per-fault table of the report (pure)
procs    the local stack's processes and lease holders
inject   the injectors (signals to processes; servers through the stack's proxies)
measure  per-fault figures: HTTP timeline, audit, payments, waiting-room places
report   plots with the faults marked, chaos.md and chaos.json
runner   the command itself
"""
