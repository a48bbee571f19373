"""Restore engines: ``scriptforpi`` (ALMA's scriptForPI.py with a monolithic CASA) and ``modular`` (pip casatasks)."""
