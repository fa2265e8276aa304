"""Independently written authorization servers the suite runs nb_oauth against (besides the demo server)."""
