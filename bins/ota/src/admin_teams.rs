//! `ota user`, `ota access-key`, `ota policy`, `ota token` and `ota audit`: users, their
//! keys and tokens, RAM policies and the audit log through the native API.

use crate::client::ApiClient;
use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Users: people and pipelines, each with at most two access keys and attached policies.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; with --policy-file, a policy made from that RAM document is attached.
    Create {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        /// A RAM policy document (JSON) to create as `<name>-<file stem>` and attach.
        #[arg(long)]
        policy_file: Option<PathBuf>,
        /// A policy to attach by name (e.g. ReadOnlyAccess); may be repeated.
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Read a console password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Show a user.
    Show { name: String },
    /// Attach a policy: a RAM document FILE (created, or replaced, as `<name>-<file stem>`),
    /// or the name of an existing policy.
    AttachPolicy { name: String, policy: String },
    /// Detach a policy by name.
    DetachPolicy { name: String, policy: String },
    /// Let the user (their keys, tokens and console sessions) in again.
    Enable { name: String },
    /// Refuse the user's keys, tokens and console sessions on every node from now on.
    Disable { name: String },
    /// Delete a user with their keys and tokens.
    Delete { name: String },
}

/// Access keys: the secret is printed once, at creation.
#[derive(Subcommand)]
pub enum AccessKeyCommand {
    /// Create an access key for a user; prints `access_key_id` and `access_key_secret`.
    Create {
        user: String,
    },
    /// List access keys (all, or one user's).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    Delete {
        id: String,
    },
}

/// RAM policy documents.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Create a policy from a RAM document file.
    Create {
        name: String,
        file: PathBuf,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List policies, built-in ones first.
    List,
    Show {
        name: String,
    },
    /// Replace a custom policy's document.
    Update {
        name: String,
        file: PathBuf,
    },
    Delete {
        name: String,
    },
}

/// Personal access tokens (`Authorization: Bearer …`) for scripts that cannot sign.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user; prints it once.
    Create {
        user: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// Lifetime in days (1-366).
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    List {
        user: String,
    },
    /// Revoke a token by id.
    Revoke {
        id: String,
    },
}

/// The audit log.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Events, newest first; follows pages up to --limit.
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        access_key: Option<String>,
        /// The action, e.g. CreateOTAFirmware.
        #[arg(long)]
        event: Option<String>,
        /// An id the event touched.
        #[arg(long)]
        resource: Option<String>,
        /// Events at or after this time (epoch ms).
        #[arg(long)]
        since: Option<i64>,
        /// Events before this time (epoch ms).
        #[arg(long)]
        until: Option<i64>,
        /// Most events printed.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print CSV instead of JSON.
        #[arg(long)]
        csv: bool,
    },
}

fn read_document(file: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

fn stem(file: &Path) -> anyhow::Result<String> {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .context("the policy file name is not UTF-8")?;
    Ok(stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect())
}

/// Creates the policy in `file` as `<user>-<stem>`, or replaces its document when it
/// exists; returns its name.
async fn policy_from_file(api: &ApiClient, user: &str, file: &Path) -> anyhow::Result<String> {
    let document = read_document(file)?;
    let name = format!("{user}-{}", stem(file)?);
    let created = api
        .post(
            "/policies",
            &json!({"policy_name": name, "description": format!("from {}", file.display()), "document": document}),
        )
        .await;
    match created {
        Ok(_) => Ok(name),
        Err(err) if err.to_string().contains("AlreadyExists") => {
            api.call(
                reqwest::Method::PUT,
                &format!("/policies/{name}"),
                Some(&json!({"document": document})),
            )
            .await?;
            Ok(name)
        }
        Err(err) => Err(err),
    }
}

impl UserCommand {
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Value> {
        match self {
            UserCommand::Create {
                name,
                display_name,
                policy_file,
                policies,
                password_stdin,
            } => {
                let password = if password_stdin {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    Some(line.trim_end_matches(['\r', '\n']).to_owned())
                } else {
                    None
                };
                let mut user = api
                    .post(
                        "/users",
                        &json!({"user_name": name, "display_name": display_name,
                                "password": password, "policies": policies}),
                    )
                    .await?;
                if let Some(file) = policy_file {
                    let policy = policy_from_file(api, &name, &file).await?;
                    api.post(
                        &format!("/users/{name}/policies"),
                        &json!({"policy_name": policy}),
                    )
                    .await?;
                    user["policies"] = json!([policy]);
                }
                Ok(user)
            }
            UserCommand::List => api.get("/users").await,
            UserCommand::Show { name } => {
                let mut user = api.get(&format!("/users/{name}")).await?;
                user["policies"] =
                    api.get(&format!("/users/{name}/policies")).await?["items"].take();
                user["access_keys"] =
                    api.get(&format!("/users/{name}/access-keys")).await?["items"].take();
                Ok(user)
            }
            UserCommand::AttachPolicy { name, policy } => {
                let path = Path::new(&policy);
                let policy = if path.is_file() {
                    policy_from_file(api, &name, path).await?
                } else {
                    policy
                };
                api.post(
                    &format!("/users/{name}/policies"),
                    &json!({"policy_name": policy}),
                )
                .await?;
                Ok(json!({"user_name": name, "attached": policy}))
            }
            UserCommand::DetachPolicy { name, policy } => {
                api.delete(&format!("/users/{name}/policies/{policy}"))
                    .await?;
                Ok(json!({"user_name": name, "detached": policy}))
            }
            UserCommand::Enable { name } => {
                api.patch(&format!("/users/{name}"), &json!({"enabled": true}))
                    .await
            }
            UserCommand::Disable { name } => {
                api.patch(&format!("/users/{name}"), &json!({"enabled": false}))
                    .await
            }
            UserCommand::Delete { name } => {
                api.delete(&format!("/users/{name}")).await?;
                Ok(json!({"deleted": name}))
            }
        }
    }
}

impl AccessKeyCommand {
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Value> {
        let set = |id: &str, enabled: bool| {
            let path = format!("/access-keys/{id}");
            async move { api.patch(&path, &json!({"enabled": enabled})).await }
        };
        match self {
            AccessKeyCommand::Create { user } => {
                api.post(&format!("/users/{user}/access-keys"), &json!({}))
                    .await
            }
            AccessKeyCommand::List { user: Some(user) } => {
                api.get(&format!("/users/{user}/access-keys")).await
            }
            AccessKeyCommand::List { user: None } => api.get("/access-keys").await,
            AccessKeyCommand::Enable { id } => set(&id, true).await,
            AccessKeyCommand::Disable { id } => set(&id, false).await,
            AccessKeyCommand::Delete { id } => {
                api.delete(&format!("/access-keys/{id}")).await?;
                Ok(json!({"deleted": id}))
            }
        }
    }
}

impl PolicyCommand {
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Value> {
        match self {
            PolicyCommand::Create {
                name,
                file,
                description,
            } => {
                let document = read_document(&file)?;
                api.post(
                    "/policies",
                    &json!({"policy_name": name, "description": description, "document": document}),
                )
                .await
            }
            PolicyCommand::List => api.get("/policies").await,
            PolicyCommand::Show { name } => api.get(&format!("/policies/{name}")).await,
            PolicyCommand::Update { name, file } => {
                let document = read_document(&file)?;
                api.call(
                    reqwest::Method::PUT,
                    &format!("/policies/{name}"),
                    Some(&json!({"document": document})),
                )
                .await
            }
            PolicyCommand::Delete { name } => {
                api.delete(&format!("/policies/{name}")).await?;
                Ok(json!({"deleted": name}))
            }
        }
    }
}

impl TokenCommand {
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Value> {
        match self {
            TokenCommand::Create { user, name, days } => {
                api.post(
                    &format!("/users/{user}/tokens"),
                    &json!({"name": name, "expires_in_seconds": days * 86_400}),
                )
                .await
            }
            TokenCommand::List { user } => api.get(&format!("/users/{user}/tokens")).await,
            TokenCommand::Revoke { id } => {
                api.delete(&format!("/tokens/{id}")).await?;
                Ok(json!({"revoked": id}))
            }
        }
    }
}

impl AuditCommand {
    /// The events as JSON (`{"items": [...]}`), or `None` after printing CSV itself.
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Option<Value>> {
        let AuditCommand::List {
            user,
            access_key,
            event,
            resource,
            since,
            until,
            limit,
            csv,
        } = self;
        let mut query: Vec<(&str, String)> = Vec::new();
        let mut add = |k, v: Option<String>| {
            if let Some(v) = v {
                query.push((k, v));
            }
        };
        add("user_name", user);
        add("access_key_id", access_key);
        add("event_name", event);
        add("resource_id", resource);
        add("start_time", since.map(|t| t.to_string()));
        add("end_time", until.map(|t| t.to_string()));
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        while items.len() < limit {
            let size = (limit - items.len()).min(1000);
            let mut q = query.clone();
            q.push(("page_size", size.to_string()));
            if let Some(token) = &next {
                q.push(("next_token", token.clone()));
            }
            let encoded = serde_urlencoded::to_string(&q)?;
            let page = api.get(&format!("/audit-events?{encoded}")).await?;
            let got = page["items"].as_array().cloned().unwrap_or_default();
            let empty = got.is_empty();
            items.extend(got);
            next = page["next_token"].as_str().map(str::to_owned);
            if empty || next.is_none() {
                break;
            }
        }
        if csv {
            print!("{}", to_csv(&items)?);
            return Ok(None);
        }
        Ok(Some(json!({"items": items})))
    }
}

/// The events as CSV, the columns of the API's CSV export.
fn to_csv(items: &[Value]) -> anyhow::Result<String> {
    const COLUMNS: &[&str] = &[
        "event_id",
        "event_time",
        "event_name",
        "face",
        "user_name",
        "access_key_id",
        "session_id",
        "source_ip",
        "user_agent",
        "result",
        "error_message",
        "resources",
        "request_parameters",
    ];
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS)?;
    for item in items {
        let row: Vec<String> = COLUMNS
            .iter()
            .map(|c| match &item[*c] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(ids) => ids
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            })
            .collect();
        out.write_record(&row)?;
    }
    Ok(String::from_utf8(out.into_inner()?)?)
}
