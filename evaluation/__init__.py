"""The metric harness: feature extractors, FID / IS / precision-recall, tables and figures."""
