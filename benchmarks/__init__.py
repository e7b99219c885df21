"""`make bench`: speed and memory against the raw libraries, outside the shipped package."""
