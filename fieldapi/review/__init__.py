"""The review chain: submissions, routing rules, decisions, and what waits in each inbox."""
