//! `ota bench reads`: the reads an operator makes every day, timed at fleet scale. It starts
//! a real server process, registers the devices through the native API, creates one batch
//! over all of them (pushing at the slowest rate, so its tasks stay QUEUED), and then sends
//! each read — device list pages and search, the batch with its counts, its task list
//! filtered by state at the first, a middle and the last page, the version distribution,
//! and the console pages showing them — a number of times in a row, reporting p50, p95 and
//! the slowest answer of each. On PostgreSQL the tables are vacuumed and analyzed first, as
//! autovacuum does minutes after a bulk load.

use crate::bench_batch::{bench_package, register_fleet, wait_created};
use crate::client::{ApiClient, text};
use crate::launch::OwnServer;
use crate::report_probe::percentile_ms;
use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct ReadsArgs {
    /// Registered devices, all of one product, and tasks of the batch over them.
    #[arg(long, default_value_t = 1_000_000)]
    pub devices: usize,
    /// Times each read is sent.
    #[arg(long, default_value_t = 50)]
    pub requests: usize,
    #[command(flatten)]
    pub own: OwnServer,
}

/// Items per page, as the console shows them.
const PAGE_SIZE: usize = 50;

/// One read: its name and the path (below `/api/v1` for the API, absolute for the console).
struct Read {
    name: &'static str,
    path: String,
    console: bool,
}

/// Runs the benchmark; returns its report (printed as JSON by `ota bench reads`).
pub async fn reads(args: ReadsArgs) -> anyhow::Result<Value> {
    if args.devices < 2 || args.requests == 0 {
        bail!("--devices must be at least 2 and --requests at least 1");
    }
    let (dir, server, api) = args.own.start().await?;
    let store_kind = args.own.store_name();
    eprintln!("server up ({store_kind}) at {}", server.http);
    let (pk, names) = register_fleet(&api, "BenchReads", args.devices).await?;
    let firmware_id = bench_package(&api, &pk).await?;
    let started = Instant::now();
    let created = api
        .post(
            &format!("/firmwares/{firmware_id}/jobs"),
            &json!({"target_selection": "ALL", "maximum_per_minute": 10}),
        )
        .await?;
    let job_id = text(&created, "job_id")?;
    wait_created(&api, &firmware_id, created, Duration::from_secs(600)).await?;
    eprintln!(
        "batch of {} tasks created in {:.1} s",
        names.len(),
        started.elapsed().as_secs_f64()
    );

    let store_url = match &args.own.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("ota.db").display()),
    };
    seed_versions(&store_url, &pk).await?;
    if args.own.database_url.is_some() {
        settle_postgres(&store_url).await?;
    }

    let middle_page = names.len() / PAGE_SIZE / 2 + 1;
    let last_page = names.len().div_ceil(PAGE_SIZE);
    let some_name = &names[names.len() * 2 / 3];
    // A prefix all but the last two characters of one name: a handful of matches.
    let prefix = &some_name[..some_name.len().saturating_sub(2)];
    let api_read = |name, path: String| Read {
        name,
        path,
        console: false,
    };
    let console_read = |name, path: String| Read {
        name,
        path,
        console: true,
    };
    let devices = format!("/products/{pk}/devices?page_size={PAGE_SIZE}");
    let tasks = format!("/jobs/{job_id}/tasks?status=QUEUED&page_size={PAGE_SIZE}");
    let reads = [
        api_read("device list, first page", devices.clone()),
        api_read(
            "device list, middle page",
            format!("{devices}&page={middle_page}"),
        ),
        api_read(
            "device list, last page",
            format!("{devices}&page={last_page}"),
        ),
        api_read(
            "device search by name prefix",
            format!("{devices}&prefix={prefix}"),
        ),
        api_read("one device", format!("/products/{pk}/devices/{some_name}")),
        api_read("batch with counts", format!("/jobs/{job_id}")),
        api_read("batch tasks QUEUED, first page", tasks.clone()),
        api_read(
            "batch tasks QUEUED, middle page",
            format!("{tasks}&page={middle_page}"),
        ),
        api_read(
            "batch tasks QUEUED, last page",
            format!("{tasks}&page={last_page}"),
        ),
        api_read(
            "batch tasks FAILED (none)",
            format!("/jobs/{job_id}/tasks?status=FAILED&page_size={PAGE_SIZE}"),
        ),
        api_read(
            "batch task of one device",
            format!("/jobs/{job_id}/tasks?device_name={some_name}"),
        ),
        api_read("version distribution", format!("/products/{pk}/versions")),
        console_read("console: device list", format!("/console/products/{pk}")),
        console_read(
            "console: device list, a deep page",
            format!("/console/products/{pk}?page={middle_page}"),
        ),
        console_read("console: batch", format!("/console/batches/{job_id}")),
        console_read(
            "console: batch tasks QUEUED, a deep page",
            format!("/console/batches/{job_id}?status=QUEUED&page={middle_page}"),
        ),
        console_read(
            "console: version distribution",
            format!("/console/products/{pk}/analysis"),
        ),
    ];
    // Keyset paging from the middle: the task after which the middle page starts.
    let middle = api.get(&format!("{tasks}&page={middle_page}")).await?;
    let middle_task = text(&middle["items"][0], "task_id")?;
    let reads: Vec<Read> = reads
        .into_iter()
        .chain([
            api_read(
                "batch tasks QUEUED, middle page by keyset",
                format!("{tasks}&after={middle_task}"),
            ),
            api_read(
                "device list, middle page by keyset",
                format!("{devices}&after={}", names[names.len() / 2]),
            ),
        ])
        .collect();
    let console = Console::sign_in(&api).await?;
    let mut results = Vec::new();
    for read in &reads {
        let mut times = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let start = Instant::now();
            if read.console {
                console.get(&read.path).await
            } else {
                api.get(&read.path).await.map(drop)
            }
            .with_context(|| format!("{}: GET {}", read.name, read.path))?;
            times.push(start.elapsed());
        }
        let mut ms = |p: f64| (percentile_ms(&mut times, p) * 10.0).round() / 10.0;
        let result = json!({"read": read.name, "path": read.path,
                            "ms_p50": ms(50.0), "ms_p95": ms(95.0), "ms_max": ms(100.0)});
        eprintln!("{result}");
        results.push(result);
    }
    server.stop().await?;
    Ok(json!({
        "store": store_kind,
        "devices": args.devices,
        "tasks": names.len(),
        "requests_per_read": args.requests,
        "page_size": PAGE_SIZE,
        "reads": results,
    }))
}

/// Every device's `default` module at one of three versions (60 % 1.0.0, 30 % 1.1.0,
/// 10 % 0.9.0), written straight into the store: the rows a million devices' version
/// reports would leave, without a million MQTT connections (one process holds ~19,000).
async fn seed_versions(url: &str, pk: &str) -> anyhow::Result<()> {
    let insert = sqlx::query(
        "INSERT INTO module_versions (device_id, product_key, module_name, version, \
         reported_at) SELECT id, product_key, 'default', CASE WHEN id % 10 = 0 THEN '0.9.0' \
         WHEN id % 10 < 4 THEN '1.1.0' ELSE '1.0.0' END, created_at \
         FROM devices WHERE product_key = $1",
    )
    .bind(pk);
    on_store(url, "versions of every device written", insert).await
}

/// Brings PostgreSQL's tables to the state autovacuum keeps them in: freshly loaded, a
/// million rows have no planner statistics and no visibility map, so every count reads the
/// whole table; within minutes autovacuum would have analyzed and vacuumed them. SQLite is
/// measured as it is (the server does not analyze it).
async fn settle_postgres(url: &str) -> anyhow::Result<()> {
    let vacuum = sqlx::query("VACUUM (ANALYZE) devices, tasks, jobs, module_versions");
    on_store(
        url,
        "PostgreSQL tables vacuumed and analyzed, as autovacuum would",
        vacuum,
    )
    .await
}

/// Runs one statement on the server's store from beside it and says how long it took.
async fn on_store(
    url: &str,
    what: &str,
    statement: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await?;
    statement
        .execute(&pool)
        .await
        .with_context(|| what.to_owned())?;
    pool.close().await;
    eprintln!("{what} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A signed-in console session.
struct Console {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Console {
    /// Signs in with the API client's key, as an operator does in the login form.
    async fn sign_in(api: &ApiClient) -> anyhow::Result<Console> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let base = api.base().to_owned();
        let (key_id, secret) = api.credentials();
        let answer = http
            .post(format!("{base}/console/login"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("key_id", key_id)
                    .append_pair("secret", secret)
                    .finish(),
            )
            .send()
            .await?;
        let cookie = answer
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
            .with_context(|| format!("console sign-in refused: HTTP {}", answer.status()))?;
        Ok(Console { http, base, cookie })
    }

    /// Fetches a page and reads it whole; a status other than 200 is an error.
    async fn get(&self, path: &str) -> anyhow::Result<()> {
        let answer = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await?;
        let status = answer.status();
        answer.bytes().await?;
        if status != reqwest::StatusCode::OK {
            bail!("HTTP {status}");
        }
        Ok(())
    }
}
