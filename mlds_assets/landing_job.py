"""Landing as a run: the inbox sensor only lists the inbox; copying and hashing a file (up to
ingestion.max_file_mb) happens here, in a run process (a run pod on Kubernetes), which writes the landed copy
and its sidecar to the landing area. The sensor's next tick turns each new sidecar into a batch (a dynamic
partition) and its fast-path run. A failed landing shows as a failed run naming the file and the reason,
re-executable from the UI."""

from dagster import Config, Failure, JobDefinition, MetadataValue, OpExecutionContext, job, op
from upath import UPath

from mlds_assets.core.landing import LandingError, land_file
from mlds_assets.core.upaths import is_under
from mlds_assets.settings import Settings

LANDING_JOB = "land_inbox_files"
VIA_INBOX = "inbox"  # the sidecar's `via` for files this job landed: the sensor makes their batches


class InboxFile(Config):
    platform: str
    path: str  # a file under the inbox (a local path or a UPath URL)


class LandingConfig(Config):
    files: list[InboxFile]


def build_landing_job(settings: Settings) -> JobDefinition:
    @op(name="land_files", description="Copy and hash each file into the landing area (content-addressed).")
    def land_files(context: OpExecutionContext, config: LandingConfig) -> None:
        failed, rows = [], []
        for number, item in enumerate(config.files, start=1):
            path = UPath(item.path)
            context.log.info(f"file {number} of {len(config.files)}: {item.platform}/{path.name}")
            try:
                if item.platform not in settings.platforms:
                    raise LandingError(f"{path.name}: unknown platform {item.platform!r}")
                if not is_under(path, settings.inbox_dir):  # run config can be edited in the UI
                    raise LandingError(f"{path}: not under the inbox {settings.inbox_dir}; not read")
                landed, is_new = land_file(
                    path, settings.landing_dir, item.platform, settings.ingestion.max_file_bytes, via=VIA_INBOX
                )
            except (LandingError, OSError) as exc:
                context.log.error(f"{item.platform}/{path.name}: not landed: {exc}")
                failed.append(f"{item.platform}/{path.name}: {exc}")
                continue
            outcome = "landed" if is_new else "same content as an earlier batch"
            context.log.info(f"{path.name}: {outcome}: batch {landed.partition_key} ({landed.size:,} bytes)")
            rows.append(f"| {item.platform} | {path.name} | {landed.partition_key} | {outcome} |")
        table = "| platform | file | batch | outcome |\n|---|---|---|---|\n" + "\n".join(rows)
        context.log.info(f"landed {len(rows)} of {len(config.files)} files\n{table}")
        if failed:
            raise Failure(
                description=f"{len(failed)} of {len(config.files)} files not landed: " + "; ".join(failed),
                metadata={"files": MetadataValue.md("\n".join(f"- {reason}" for reason in failed))},
            )

    @job(name=LANDING_JOB, description="Land the inbox files the inbox sensor found complete (one run per tick).")
    def land_inbox_files_job() -> None:
        land_files()

    return land_inbox_files_job
