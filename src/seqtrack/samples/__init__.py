"""Samples: the tubes a facility tracks, their lifecycle, processing steps and QC."""
