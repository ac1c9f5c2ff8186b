//! The command line, as clap types. Doc comments are the `--help` text (snapshotted in
//! `tests/cli_help.rs`). Nothing here does work: `commands::run` resolves these into
//! settings and dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps the base images of an OpenStack cloud fresh, the GitOps way.
///
/// catalog/*.yaml (people) --check--> state/*.toml (lockfiles) --propose--> git review;
/// state/ + Glance --plan--> diff --apply--> Glance.
#[derive(Debug, Parser)]
#[command(
    name = "image-crawler",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every verb takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The catalog directory (`*.yaml`, written by people).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "catalog",
        env = "IMAGE_CRAWLER_CATALOG"
    )]
    pub catalog: PathBuf,
    /// The lockfile directory (`*.toml`, written by `check`).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "state",
        env = "IMAGE_CRAWLER_STATE"
    )]
    pub state: PathBuf,
    /// Output for people (`human`) or programs (`json`; one document, or JSON lines for `apply`).
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// More detail (`-v`: diffs and decisions, `-vv`: debug logs, `-vvv`: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors and the data asked for.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use colours (`auto` honours NO_COLOR and whether stderr is a terminal).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the catalog and the lockfiles, offline, and report every problem at once.
    ///
    /// Exit status 0 when valid, 4 when something is wrong.
    Validate(ValidateArgs),
    /// Print the JSON Schemas of the catalog and the lockfile.
    Schema(SchemaArgs),
    /// Find the newest upstream build of every image and update its lockfile.
    ///
    /// Reads the distributors' own metadata (simplestreams, manifests, checksum files), verifies
    /// signatures, and writes `state/<id>.toml` only when something changed.
    Check(CheckArgs),
    /// Commit changed lockfiles as reviewable proposals (one commit and branch per image).
    Propose(ProposeArgs),
    /// Show the images this tool manages in a cloud and whether they match the lockfiles.
    Status(StatusArgs),
    /// Compute what `apply` would change in Glance, without changing anything.
    Plan(PlanArgs),
    /// Bring Glance to the state of the lockfiles: import, verify, rotate, retire.
    Apply(ApplyArgs),
    /// Check a cloud's images against the SCS standards scs-0102 and scs-0104.
    Audit(AuditArgs),
    /// Build the catalog's `diskimage-builder` images with `disk-image-create`.
    ///
    /// Writes `<output>/<id>/<version>/` (the qcow2, SHA256SUMS, SHA256SUMS.asc when signing,
    /// manifest.json) atomically, and the engine's log to `<output>/logs/`.
    Build(BuildArgs),
    /// Upload built artifact directories to their recipe's `publish` container (S3).
    ///
    /// Checksums, signature and manifest first, the image last, so `check` never sees a half
    /// published build; versions already in the store are skipped. Credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (SigV4, region AWS_REGION, default us-east-1);
    /// anonymous without them.
    Publish(PublishArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {}

#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// Which schema to print; all (as one JSON object) when absent.
    #[arg(value_enum)]
    pub which: Option<SchemaKind>,
    /// Write `catalog.schema.json`, `lock.schema.json` and `lifecycle.schema.json` into this
    /// directory instead.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Catalog,
    Lock,
    // `catalog/lifecycle.yaml` (end-of-life dates); no doc comment, to keep `--help` short.
    Lifecycle,
}

/// Options for reaching upstream (shared by `check`, `plan` and `apply`; `plan` only checks
/// them, so a wrapper passes one set of flags to every verb).
#[derive(Debug, Clone, Args)]
pub struct UpstreamArgs {
    /// Fetch URLs starting with FROM from TO instead (repeatable). The lockfile keeps the
    /// upstream URL. Adds to the catalog's `settings.mirrors`.
    #[arg(long = "mirror", value_name = "FROM=TO")]
    pub mirrors: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Only these image ids (globs allowed); all enabled images when absent.
    #[arg(value_name = "IDS")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Fail (exit 5) when a lockfile would change; write nothing.
    #[arg(long, conflicts_with = "dry_run")]
    pub locked: bool,
    /// Exit 2 when a lockfile changed (or would change).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Take a build older than the locked one.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// How many images to check at once. Metadata requests are small and spread over the
    /// distributors' hosts; the fetcher shares indexes that several images read.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Do not use (or fill) the conditional-request cache in the user's cache directory.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    /// One commit and branch per image.
    Image,
    /// One commit and branch for all changed images.
    All,
}

#[derive(Debug, Clone, Args)]
pub struct ProposeArgs {
    /// One proposal per image, or one for all.
    #[arg(long, value_enum, default_value_t = GroupBy::Image)]
    pub group_by: GroupBy,
    /// The git remote to push to.
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub remote: String,
    /// The branch the proposals are based on (default: the current branch).
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
    /// Prefix of proposal branches (`<prefix><image-or-group>`).
    #[arg(long, value_name = "P", default_value = "image-bump/")]
    pub branch_prefix: String,
    /// Push the proposals (otherwise only commit locally).
    #[arg(long)]
    pub push: bool,
    /// Push to `refs/for/<base>` with a Change-Id (Gerrit).
    #[arg(long)]
    pub gerrit: bool,
    /// Proceed although these paths (files or directories) have changes; they are never
    /// committed (any other dirty path is refused).
    #[arg(long, value_name = "PATH")]
    pub allow_dirty: Vec<PathBuf>,
}

/// Which cloud(s) to talk to.
#[derive(Debug, Clone, Args)]
pub struct CloudArgs {
    /// The cloud in clouds.yaml (or `OS_CLOUD`); plain `OS_*` variables when neither is set.
    #[arg(long, value_name = "NAME", env = "OS_CLOUD", hide_env_values = true)]
    pub cloud: Option<String>,
    /// The cloud's region (one of its `regions:`); the first one listed when absent.
    #[arg(
        long,
        value_name = "NAME",
        env = "OS_REGION_NAME",
        hide_env_values = true
    )]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Every target in the catalog's `settings.targets`.
    #[arg(long, conflicts_with = "cloud")]
    pub all_targets: bool,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub cloud: CloudArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Only these image ids (globs allowed); all of the target's images when absent.
    #[arg(value_name = "IDS")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    /// Also save the plan (JSON) for `apply --plan`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan even if the result would break scs-0102.
    #[arg(long)]
    pub allow_nonconforming: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// Only these image ids (globs allowed); all of the target's images when absent. Images
    /// left out are not touched (neither rotated nor deleted).
    #[arg(value_name = "IDS")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    /// Apply this saved plan (refused when stale) instead of planning now.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Refuse (exit 5) a plan that deletes more images than this.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_deletes: u32,
    /// How many images to process at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
    /// Apply even if the result would break scs-0102.
    #[arg(long)]
    pub allow_nonconforming: bool,
    /// How long this run's claim on its temporary images lasts (an upper bound on one image's
    /// transfer and verification). Another apply cleans up a temporary image only when its
    /// claim expired, or when its holder ran on the same host and is gone.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::reconcile::claim::DEFAULT_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(60..))]
    pub claim_ttl: u64,
    /// Fail a download slower than this per second over the rate window (`16KiB`; `0`: off).
    /// Overrides `settings.download.min_rate`.
    #[arg(long, value_name = "RATE", value_parser = crate::catalog::parse_rate)]
    pub min_rate: Option<u64>,
    /// The window the rate is averaged over (`60s`). Overrides `settings.download.window`.
    #[arg(long, value_name = "DURATION", value_parser = crate::catalog::parse_span)]
    pub rate_window: Option<std::time::Duration>,
    /// The longest one image's download may take (`2h`; keep it below --claim-ttl). Overrides
    /// `settings.download.deadline`.
    #[arg(long, value_name = "DURATION", value_parser = crate::catalog::parse_span)]
    pub deadline: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Only these image ids (globs allowed); all enabled `diskimage-builder` images when absent.
    #[arg(value_name = "IDS")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    /// The `disk-image-create` to run (default: the one on PATH).
    #[arg(long, value_name = "PATH", env = "IMAGE_CRAWLER_DIB")]
    pub engine: Option<PathBuf>,
    /// Where the artifact directories and logs go.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "builds",
        env = "IMAGE_CRAWLER_BUILDS"
    )]
    pub output: PathBuf,
    /// An armoured OpenPGP secret key (no passphrase) that signs SHA256SUMS.
    #[arg(long, value_name = "FILE", env = "IMAGE_CRAWLER_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// Only the images of this architecture (`x86_64`, `aarch64`): one build job per
    /// architecture, each on a node of it.
    #[arg(long, value_name = "ARCH", value_parser = ["x86_64", "aarch64"])]
    pub arch: Option<String>,
    /// Build only the images `check` reports a rebuild due for: never published, the recipe
    /// changed, or the package archive moved since the newest published build.
    #[arg(long)]
    pub if_needed: bool,
    /// Do not use (or fill) the conditional-request cache for the archive's Release files.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Only these image ids (globs allowed); all enabled `diskimage-builder` images when absent.
    #[arg(value_name = "IDS")]
    pub ids: Vec<String>,
    /// The artifact tree `build` wrote.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "builds",
        env = "IMAGE_CRAWLER_BUILDS"
    )]
    pub output: PathBuf,
    /// Make every uploaded object world-readable (canned ACL `public-read`), for stores where
    /// a bucket policy does not already do so.
    #[arg(long)]
    pub public: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Exit 2 when there are findings.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// The scs-0102 version that decides what is mandatory (`v2`, the draft, makes `os_purpose`
    /// and the uniqueness of generic images mandatory).
    #[arg(long, value_enum, default_value_t = crate::scs::Scs0102Version::V1)]
    pub scs0102: crate::scs::Scs0102Version,
    /// The scs-0104 standard image list (`v5`: certificate scope v5.1, `v4`, or `none`).
    #[arg(long, value_enum, default_value_t = crate::scs::StandardImageList::V5)]
    pub scs0104: crate::scs::StandardImageList,
    /// Warn this many weeks before a release's end of life (from `<catalog>/lifecycle.yaml`,
    /// or the built-in data when the catalog has none).
    #[arg(long, value_name = "WEEKS", default_value_t = crate::scs::lifecycle::DEFAULT_WARNING_WEEKS)]
    pub eol_warning_weeks: u32,
    /// Also judge hidden images (stricter than the official suite, which never lists them).
    #[arg(long)]
    pub include_hidden: bool,
    /// Also judge the community images of other projects (stricter than the official suite,
    /// which lists the auditing project's community images only).
    #[arg(long)]
    pub include_community: bool,
    /// scs-0104 sources: judge every image of a standard name (the official suite judges the
    /// oldest of same-named images only).
    #[arg(long)]
    pub each_duplicate: bool,
    /// Also write the report as Markdown to this file (the periodic Zuul audit job publishes
    /// it as a build artifact).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
