"""Haven's benchmarks: run by hand (`make bench`), never by CI. See docs/performance.md."""
