"""prakerja partner-sim: a reference partner that drives the public partner API end to end."""
