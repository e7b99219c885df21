"""Domain logic as plain functions over DataFrames. Nothing here imports dagster."""
