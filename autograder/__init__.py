"""The course autograder: starts a stage as real processes and checks its socket behaviour."""
