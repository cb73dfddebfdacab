"""Documents: a CSV uploaded to the web, summarised by the worker, the summary shown by the web."""
