"""Cross-cutting pieces shared by every domain module (never imports a domain module)."""
