"""Admin reports: live JSON statistics and CSV / XLSX / PDF exports run as background jobs."""
