"""The fault engine that runs inside each worker: mmap a private anonymous region and copy
blocks into it (write) or out of it (read) with fio's ``page_fault`` semantics.

Modules, one responsibility each:

* ``runner``: ``JobRunner`` (setup/run/close), phases, limits, interval reports.
* ``pattern``: where each I/O goes (fio's cursors, loops, replay of re-seeded loops).
* ``randmap``, ``rwmix``, ``blocksize``, ``distribution``, ``streams``: fio's random map,
  direction choice, block sizes, non-uniform offsets and seeded random streams.
* ``kernel``: the compiled per-I/O loop.  ``recorder``: kernel accumulators -> deltas.
* ``region``: the mapping.  ``faults``: rusage and huge pages.  ``heap``: keeps the
  worker's own allocations from faulting.  ``iolog``: fio's per-I/O log files.
"""
