"""MLDS: a Dagster asset-based data platform for social-media analytics."""

import warnings

# dagster-pandas types and partitioned asset checks are marked beta/preview in Dagster 1.13; we pin the
# version and test them, so the per-import warnings are noise in every run log.
warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")
