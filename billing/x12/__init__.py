"""X12 837P: the writer (`p837`) and a structural check (`validate`), both pure."""
