"""Reports: tables, figures, claims and run fingerprints, built from the files the workflow writes."""
