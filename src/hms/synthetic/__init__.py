"""Synthetic population generator (``hms generate``): realistic Egyptian patients, visits,
nursing assessments and vital signs, bulk-loaded for benchmarks and staging."""
