"""reports: results tables -> statistics, figures and an HTML report. Reads result files only."""
