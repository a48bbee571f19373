"""Readers: CASA tables and images to xarray (python-casacore, astropy; no Jupyter).

The io layer owns every read of a CASA table or image file:

- ``tables``: the one owner of casacore table handles (one cached read-only handle and one
  lock per table per process, opened on a read-only view so nothing is written into a package);
  ``table``: checks and the kind of a table;
- ``ms`` (``open_ms``) with ``msindex`` (row index), ``msarray`` (lazy backend arrays),
  ``mstree`` (interferometric tree builder), ``singledish`` (FLOAT_DATA tree builder),
  ``msmeta`` (metadata subtables), ``msv4`` (xradio's MSv4 names and attrs, almaview's extra
  coordinates and the differences, in one place) and ``geometry`` (positions, observatories, sky frames);
- ``caltable`` (``open_caltable``), ``image``/``imagestats`` (``open_image``), ``backend``
  (the ``engine="almaview"`` xarray backend).
"""
