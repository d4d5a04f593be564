"""loadgen: a page-fault load generator for Linux memory-management testing.

Layout (the worker side never imports the controller side):

* ``loadgen.jobfile``   -- the fio job-file language: reading, substitution, option table
* ``loadgen.plan``      -- the resolved plan: frozen dataclasses, what will run
* ``loadgen.engine``    -- the worker's fault engine: mmap region, access patterns, hot loop
* ``loadgen.protocol``  -- the message format on the worker -> controller pipes
* ``loadgen.stats``     -- latency histograms and per-job accumulators (shared by both sides)
* ``loadgen.controller``-- the asyncio controller: groups, worker processes, aggregation
* ``loadgen.report``    -- fio-compatible json/json+/normal/terse reports, JSON lines, logs
* ``loadgen.kernel``    -- what the kernel did: vmstat, THP/mTHP counters, system facts
"""

__version__ = "0.1.0"
