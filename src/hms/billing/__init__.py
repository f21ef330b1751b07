"""billing module (seed 004 HCMS); see its service.py."""
