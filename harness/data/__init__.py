"""Data: what datasets return, splitting, decoding, the decode-once cache and the baseline."""
