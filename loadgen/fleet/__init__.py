"""Fleet runs: one profile on many hosts through Dask distributed (docs/fleet.md).

Controller side only; the worker side never imports this package.

* ``options``: ``--cluster``/``--hosts``/``--barrier-timeout`` and the host's command line;
* ``agent``: runs inside a Dask worker, one per host: loadgen's normal controller as a
  subprocess, its JSON lines forwarded as they come, its barrier tied to the fleet's;
* ``coordinator``: the client: picks the hosts, opens the cluster-wide barrier, merges
  the streams, handles dead hosts and Ctrl-C;
* ``clock``: each host's clock offset, for the start-skew figures;
* ``report``: fio's client/server JSON (``client_stats`` with "All clients") plus the
  fleet summary.
"""
