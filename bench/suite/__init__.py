"""kettle's side-by-side benchmark suite (BENCHMARKS.md): ``python -m bench.suite``.

Modules: ``frameworks`` (who runs on which server), ``scenarios`` (the eight scenarios and
their correctness checks), ``server`` (pinned start and stop), ``wrk`` (load and its
report), ``database`` (the TechEmpower tables), ``runner`` (the interleaved loop),
``results`` / ``report`` / ``targets`` / ``chart`` (what is written), ``env`` (the peers'
own environments).
"""
