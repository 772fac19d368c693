//! A TCP load balancer in front of several nodes' HTTP servers, as a deployment puts one in
//! front of every node (docs/scale-out.md), so that download URLs name no single node:
//! connections go round-robin to the nodes in service; a node that refuses a connection is
//! skipped; a scenario takes a node out of service as a health check would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

use crate::harness::Server;

/// The balancer; stops accepting when dropped.
pub struct Balancer {
    addr: SocketAddr,
    backends: Arc<Mutex<Vec<SocketAddr>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// Listens on a free loopback port, with no node in service yet.
    pub async fn start() -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let backends: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
        let next = Arc::new(AtomicUsize::new(0));
        let shared = backends.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let candidates = shared.lock().unwrap().clone();
                let first = next.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(forward(client, candidates, first));
            }
        });
        Balancer {
            addr,
            backends,
            accept,
        }
    }

    /// The public URL of the platform behind it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Puts a node's HTTP address in service.
    pub fn add(&self, node: SocketAddr) {
        self.backends.lock().unwrap().push(node);
    }

    /// Takes a node out of service (new connections only).
    pub fn remove(&self, node: SocketAddr) {
        self.backends.lock().unwrap().retain(|b| *b != node);
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Connects to the first candidate (from `first`, round-robin) that accepts, then copies
/// both ways until either side closes.
async fn forward(mut client: TcpStream, candidates: Vec<SocketAddr>, first: usize) {
    for i in 0..candidates.len() {
        let backend = candidates[(first + i) % candidates.len()];
        let connect = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(backend));
        if let Ok(Ok(mut upstream)) = connect.await {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            return;
        }
    }
}

/// A platform of two nodes on a fresh PostgreSQL schema behind one load balancer (the
/// public URL), with `extra` settings; `None` when PostgreSQL tests are skipped.
pub async fn two_nodes(extra: &[(String, String)]) -> Option<(Balancer, Server, Server)> {
    let balancer = Balancer::start().await;
    let mut env = vec![("OTA_PUBLIC_URL".to_owned(), balancer.url())];
    env.extend(extra.iter().cloned());
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = Server::start_postgres_with_env(&refs).await?;
    let b = a.sibling().await;
    balancer.add(a.http);
    balancer.add(b.http);
    Some((balancer, a, b))
}
