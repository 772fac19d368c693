//! `ota backup FILE` and `ota restore FILE`: the embedded platform (a SQLite store and a
//! package directory) in one archive, taken while the server runs.
//!
//! The store is copied first, consistently, through a read transaction (`VACUUM INTO`); the
//! package files that copy refers to are added after it. Packages are written once and never
//! changed, so the archive is as consistent as the store copy: a package added after the
//! copy is simply not in it, and one deleted meanwhile is listed as missing in the summary.
//! The archive is a plain tar file: `ota-backup.json` (what it holds), `ota.db`, and
//! `packages/<key>` for each file. PostgreSQL and S3 have their own backup tools
//! (`docs/reliability.md`).

use anyhow::{Context, bail};
use clap::Args;
use ota_store::Store;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The archive's table of contents.
const SUMMARY: &str = "ota-backup.json";
/// The store inside the archive and in a data directory.
const STORE_FILE: &str = "ota.db";
/// Where package files live in the archive and in a data directory.
const PACKAGES: &str = "packages";
/// The archive layout this version writes and reads.
const FORMAT: u32 = 1;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The archive to write (must not exist).
    pub file: PathBuf,
    /// The data directory of the platform to back up.
    #[arg(long, env = "OTA_DATA_DIR", default_value = "ota-data")]
    pub data_dir: PathBuf,
    /// The platform's store, when not the data directory's SQLite file.
    #[arg(long, env = "OTA_DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The archive `ota backup` wrote.
    pub file: PathBuf,
    /// The data directory to restore into (its store must not exist yet).
    #[arg(long, env = "OTA_DATA_DIR", default_value = "ota-data")]
    pub data_dir: PathBuf,
}

/// What an archive holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Summary {
    pub format: u32,
    /// When the store was copied (Unix milliseconds).
    pub taken_at: i64,
    /// Package files in the archive.
    pub packages: usize,
    pub package_bytes: u64,
    /// Files the store refers to that were gone when the backup read them (deleted while it
    /// ran); their packages are unusable after a restore.
    pub missing: Vec<String>,
}

/// Writes the archive; prints and returns its summary.
pub async fn backup(args: BackupArgs) -> anyhow::Result<Summary> {
    if std::env::var_os("OTA_S3_BUCKET").is_some() {
        bail!(
            "packages are in the S3 bucket set by OTA_S3_BUCKET: back the bucket up with its own \
             tools (versioning or replication) and see docs/reliability.md"
        );
    }
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => {
            let store = args.data_dir.join(STORE_FILE);
            if !store.is_file() {
                bail!(
                    "no store at {}: give the platform's --data-dir",
                    store.display()
                );
            }
            format!("sqlite://{}", store.display())
        }
    };
    if !url.starts_with("sqlite:") {
        bail!(
            "{url} is not the embedded store: back PostgreSQL up with pg_dump or a base backup \
             (docs/reliability.md)"
        );
    }
    if args.file.exists() {
        bail!("{} exists; give a new file", args.file.display());
    }
    let parent = match args.file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let work = tempfile::tempdir_in(&parent)
        .with_context(|| format!("making a work directory in {}", parent.display()))?;
    let copy = work.path().join(STORE_FILE);
    let live = Store::attach(&url)
        .await
        .with_context(|| format!("opening the store {url}"))?;
    let taken_at = now_ms();
    live.snapshot_into(&copy)
        .await
        .context("copying the store")?;
    live.close().await;
    let copied = Store::attach(&format!("sqlite://{}", copy.display())).await?;
    let keys = copied.referenced_blob_keys().await?;
    copied.close().await;

    let packages = args.data_dir.join(PACKAGES);
    let archive = args.file.clone();
    let partial = work.path().join("archive.tar");
    let summary = tokio::task::spawn_blocking(move || {
        write_archive(&partial, &copy, &packages, &keys, taken_at)?;
        std::fs::rename(&partial, &archive)
            .with_context(|| format!("writing {}", archive.display()))?;
        anyhow::Ok(read_summary(&archive)?)
    })
    .await??;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(summary)
}

fn write_archive(
    out: &Path,
    store: &Path,
    packages: &Path,
    keys: &[String],
    taken_at: i64,
) -> anyhow::Result<()> {
    let mut present = Vec::with_capacity(keys.len());
    let mut missing = Vec::new();
    let mut package_bytes = 0;
    for key in keys {
        let path = packages.join(key);
        match std::fs::metadata(&path) {
            Ok(meta) => {
                package_bytes += meta.len();
                present.push((key, path));
            }
            Err(_) => missing.push(key.clone()),
        }
    }
    let summary = Summary {
        format: FORMAT,
        taken_at,
        packages: present.len(),
        package_bytes,
        missing,
    };
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let text = serde_json::to_vec_pretty(&summary)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_mtime((taken_at / 1000).max(0) as u64);
    header.set_cksum();
    tar.append_data(&mut header, SUMMARY, text.as_slice())?;
    tar.append_path_with_name(store, STORE_FILE)?;
    for (key, path) in present {
        tar.append_path_with_name(&path, Path::new(PACKAGES).join(key))
            .with_context(|| format!("adding {}", path.display()))?;
    }
    let mut buffered = tar.into_inner()?;
    std::io::Write::flush(&mut buffered)?;
    buffered
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(())
}

/// The summary at the head of an archive.
fn read_summary(archive: &Path) -> anyhow::Result<Summary> {
    let file = File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let mut tar = tar::Archive::new(file);
    let mut entries = tar.entries()?;
    let Some(first) = entries.next() else {
        bail!("{} is not an ota backup (no entries)", archive.display());
    };
    let first = first?;
    if first.path()?.as_ref() != Path::new(SUMMARY) {
        bail!(
            "{} is not an ota backup (no {SUMMARY} first)",
            archive.display()
        );
    }
    let summary: Summary = serde_json::from_reader(first)
        .with_context(|| format!("reading {SUMMARY} of {}", archive.display()))?;
    if summary.format != FORMAT {
        bail!(
            "{} is backup format {}; this version reads format {FORMAT}",
            archive.display(),
            summary.format
        );
    }
    Ok(summary)
}

/// Unpacks the archive into a data directory without a store; prints and returns its
/// summary.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<Summary> {
    let store = args.data_dir.join(STORE_FILE);
    if store.exists() {
        bail!(
            "{} exists: restore into a new data directory, or move the old store away first",
            store.display()
        );
    }
    let (archive, data_dir) = (args.file.clone(), args.data_dir.clone());
    let summary = tokio::task::spawn_blocking(move || unpack(&archive, &data_dir)).await??;
    // Every package file the restored store refers to must be there.
    let restored = Store::attach(&format!("sqlite://{}", store.display())).await?;
    let keys = restored.referenced_blob_keys().await?;
    restored.close().await;
    let absent: Vec<&String> = keys
        .iter()
        .filter(|k| !args.data_dir.join(PACKAGES).join(k).is_file())
        .filter(|k| !summary.missing.contains(k))
        .collect();
    if !absent.is_empty() {
        bail!("the archive lacks package files its store refers to: {absent:?}");
    }
    println!("{}", serde_json::to_string(&summary)?);
    Ok(summary)
}

fn unpack(archive: &Path, data_dir: &Path) -> anyhow::Result<Summary> {
    let summary = read_summary(archive)?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let file = File::open(archive)?;
    let mut tar = tar::Archive::new(file);
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if path == Path::new(SUMMARY) {
            continue;
        }
        let allowed = path == Path::new(STORE_FILE) || path.starts_with(PACKAGES);
        if !allowed || !entry.unpack_in(data_dir)? {
            bail!(
                "{} holds an unexpected entry {}",
                archive.display(),
                path.display()
            );
        }
    }
    Ok(summary)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
