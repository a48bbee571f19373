"""Opening stays cheap as the MS grows: open time depends on metadata, not on the visibilities."""

from __future__ import annotations

import time

from casacore import tables


def _open_seconds(path, repeat=5):
    import almaview as av

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        av.open_ms(path)
        best = min(best, time.perf_counter() - t0)
    return best


def test_open_time_of_a_larger_eb_is_within_2x_of_the_small_one(alma_eb, alma_eb_wide):
    with tables.table(str(alma_eb.ms), ack=False) as t:
        small_rows = t.nrows()
    with tables.table(str(alma_eb_wide.ms), ack=False) as t:
        wide_rows = t.nrows()
    assert wide_rows > 4 * small_rows
    small, wide = _open_seconds(alma_eb.ms), _open_seconds(alma_eb_wide.ms)
    assert wide < 2 * small + 0.05, f"open_ms: {wide:.3f} s for {wide_rows} rows vs {small:.3f} s for {small_rows} rows"
