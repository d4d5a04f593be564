"""The fault engine that runs inside each worker: mmap a private anonymous region and copy
blocks into it (write) or out of it (read) with fio's ``page_fault`` semantics."""
