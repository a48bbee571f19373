"""Readers: CASA tables and images to xarray (python-casacore, astropy; no Jupyter)."""
