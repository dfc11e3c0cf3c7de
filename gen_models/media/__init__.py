"""Decoding, validating and writing images and video, face detection and alignment, and the output folder."""
