//! `rmqttd` as the scenarios run it: a broker (or a member of a Raft cluster of brokers) on
//! free loopback ports, whose `rmqtt-auth-http` plugin asks the given address's `/mqtt/auth`
//! and `/mqtt/acl` with a bearer token, whose file ACL denies whatever those did not allow,
//! and whose shared subscriptions are on (`rmqtt-shared-subscription`).

use crate::harness::{DEADLINE, free_addr};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The bearer token the broker presents to the hooks.
pub const HOOK_SECRET: &str = "rmqtt-hook-secret";

/// The `rmqttd` binary, if installed.
pub fn rmqttd() -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin").join("rmqttd"));
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("rmqttd"))
            .find(|p| p.is_file())
    });
    on_path.or(cargo_bin.filter(|p| p.is_file()))
}

/// A running `rmqttd` on a free loopback port, its HTTP hooks pointing at `hooks` (a node or
/// a balancer in front of the nodes); killed on drop.
pub struct Rmqtt {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// The addresses of a cluster of brokers (rmqtt-cluster-raft): each member's gRPC and Raft
/// address, member 1 leading.
pub struct Cluster {
    grpc: Vec<SocketAddr>,
    raft: Vec<SocketAddr>,
}

impl Cluster {
    pub fn of(members: usize) -> Cluster {
        Cluster {
            grpc: (0..members).map(|_| free_addr()).collect(),
            raft: (0..members).map(|_| free_addr()).collect(),
        }
    }

    /// The plugin settings of member `id` (1-based).
    fn plugin_config(&self, id: usize) -> String {
        let list = |addrs: &[SocketAddr]| {
            addrs
                .iter()
                .enumerate()
                .map(|(i, a)| format!("\"{}@{a}\"", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "node_grpc_addrs = [{}]\nraft_peer_addrs = [{}]\nladdr = \"{}\"\nleader_id = 1\nworker_threads = 2\n",
            list(&self.grpc),
            list(&self.raft),
            self.raft[id - 1]
        )
    }
}

impl Rmqtt {
    pub async fn start(binary: &PathBuf, hooks: &str) -> Rmqtt {
        Self::start_member(binary, hooks, None).await
    }

    /// Member `id` (1-based) of `cluster`, or a broker of its own.
    pub async fn start_member(
        binary: &PathBuf,
        hooks: &str,
        cluster: Option<(&Cluster, usize)>,
    ) -> Rmqtt {
        let dir = tempfile::tempdir().expect("temp dir");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        let addr = free_addr();
        let (id, rpc, raft_plugin) = match cluster {
            Some((c, id)) => {
                std::fs::write(plugins.join("rmqtt-cluster-raft.toml"), c.plugin_config(id))
                    .unwrap();
                (id, c.grpc[id - 1], ", \"rmqtt-cluster-raft\"")
            }
            None => (1, free_addr(), ""),
        };
        std::fs::write(
            dir.path().join("rmqtt.toml"),
            format!(
                "[node]\nid = {id}\n\n[rpc]\nserver_addr = \"{rpc}\"\n\n[log]\nto = \"console\"\nlevel = \"warn\"\n\n\
                 [plugins]\ndir = \"{}\"\ndefault_startups = [\"rmqtt-acl\", \"rmqtt-auth-http\", \"rmqtt-shared-subscription\"{raft_plugin}]\n\
                 disabled_default_startups = [\"rmqtt-http-api\"]\n\n\
                 [listener.tcp.external]\naddr = \"{addr}\"\nallow_anonymous = false\n",
                plugins.display()
            ),
        )
        .unwrap();
        // Fail closed: whatever the HTTP hooks did not allow is refused (rmqtt's default
        // file rules end by allowing everything).
        std::fs::write(
            plugins.join("rmqtt-acl.toml"),
            "rules = [[\"deny\", \"all\"]]\n",
        )
        .unwrap();
        let headers = format!(
            "{{ content-type = \"application/x-www-form-urlencoded\", authorization = \"Bearer {HOOK_SECRET}\" }}"
        );
        std::fs::write(
            plugins.join("rmqtt-auth-http.toml"),
            format!(
                "http_timeout = \"5s\"\ndeny_if_error = true\ndisconnect_if_pub_rejected = false\n\
                 http_auth_req.url = \"{hooks}/mqtt/auth\"\nhttp_auth_req.method = \"post\"\n\
                 http_auth_req.headers = {headers}\n\
                 http_auth_req.params = {{ clientid = \"%c\", username = \"%u\", password = \"%P\" }}\n\
                 http_acl_req.url = \"{hooks}/mqtt/acl\"\nhttp_acl_req.method = \"post\"\n\
                 http_acl_req.headers = {headers}\n\
                 http_acl_req.params = {{ access = \"%A\", username = \"%u\", clientid = \"%c\", topic = \"%t\" }}\n"
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new(binary)
            .arg("-f")
            .arg(dir.path().join("rmqtt.toml"))
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(if std::env::var_os("E2E_BROKER_LOG").is_some() {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("start rmqttd");
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "rmqttd never listened on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Rmqtt {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Rmqtt {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
