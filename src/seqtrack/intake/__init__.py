"""Intake: submissions from CSV, XLSX and PDF forms, validated row by row, reviewed, committed whole."""
