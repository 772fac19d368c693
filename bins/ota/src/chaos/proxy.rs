//! A TCP proxy that passes bytes through untouched and counts the HTTP requests it sees:
//! how many GETs, how many asked for a `Range`, and how many of those resumed past byte 0.
//! It sits in front of the package bucket so a scenario can prove that devices resumed
//! their downloads instead of starting over.
//!
//! When the server behind it is down, a client's connection is accepted and closed at once,
//! and a connection whose server goes away mid-transfer is closed too, so clients see what
//! they would see without the proxy: a refused or cut-off transfer.
//!
//! It can also slow each connection's responses down to a given rate, as a device's link
//! would, reading little ahead from the server: otherwise a package of a few MiB sits whole
//! in the loopback's socket buffers moments after the request, and stopping the server
//! "during downloads" would cut nothing off.
//!
//! Requests are read off the client's side of each connection as long as they carry no
//! body (a device's downloads never do); a connection that sends a body (an upload by the
//! platform) is passed through from then on without being read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What went through the proxy.
#[derive(Debug, Default)]
pub struct ProxyCounts {
    pub connections: AtomicU64,
    /// Connections closed at once because the server behind was not reachable.
    pub refused: AtomicU64,
    pub gets: AtomicU64,
    /// GETs with a `Range` header.
    pub ranged_gets: AtomicU64,
    /// GETs with a `Range` starting past byte 0: resumed downloads.
    pub resumed_gets: AtomicU64,
}

impl ProxyCounts {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

pub struct CountingProxy {
    pub addr: SocketAddr,
    pub counts: Arc<ProxyCounts>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The receive buffer of a throttled connection's server side: what the proxy may hold of
/// a response beyond what it has passed on.
const THROTTLED_READ_AHEAD: u32 = 32 * 1024;

impl CountingProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`,
    /// passing responses on at `throttle` bytes per second per connection when given.
    pub async fn start(
        upstream: SocketAddr,
        throttle: Option<u64>,
    ) -> anyhow::Result<CountingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(ProxyCounts::default());
        let shared = Arc::clone(&counts);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(relay(client, upstream, throttle, Arc::clone(&shared)));
            }
        });
        Ok(CountingProxy {
            addr,
            counts,
            accept,
        })
    }
}

async fn connect(upstream: SocketAddr, throttled: bool) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if throttled {
        socket.set_recv_buffer_size(THROTTLED_READ_AHEAD)?;
    }
    socket.connect(upstream).await
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    throttle: Option<u64>,
    counts: Arc<ProxyCounts>,
) {
    let connecting = connect(upstream, throttle.is_some());
    let server = match tokio::time::timeout(Duration::from_secs(5), connecting).await {
        Ok(Ok(server)) => server,
        _ => {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let mut sniffer = RequestSniffer::default();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            sniffer.feed(&buf[..n], &counts);
            server_write.write_all(&buf[..n]).await?;
        }
    };
    let responses = pass_on(&mut server_read, &mut client_write, throttle);
    // Whichever side ends first ends the connection: both sockets close on return.
    tokio::select! {
        _ = requests => {}
        _ = responses => {}
    }
}

/// Copies `from` to `to` until `from` ends, at most `per_second` bytes a second if given.
async fn pass_on(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    per_second: Option<u64>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
        if let Some(rate) = per_second {
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate.max(1) as f64)).await;
        }
    }
}

/// Reads request heads off a client's byte stream.
#[derive(Default)]
struct RequestSniffer {
    pending: Vec<u8>,
    /// A request with a body was seen: its bytes are not request heads.
    stopped: bool,
}

/// A request head longer than this is not one we can read; stop reading the connection.
const MAX_HEAD: usize = 64 * 1024;

impl RequestSniffer {
    fn feed(&mut self, bytes: &[u8], counts: &ProxyCounts) {
        if self.stopped {
            return;
        }
        self.pending.extend_from_slice(bytes);
        while let Some(end) = find(&self.pending, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
            self.pending.drain(..end + 4);
            if count_request(&head, counts) {
                self.stopped = true;
                self.pending.clear();
                return;
            }
        }
        if self.pending.len() > MAX_HEAD {
            self.stopped = true;
            self.pending.clear();
        }
    }
}

/// Counts one request head; true when a body follows it.
fn count_request(head: &str, counts: &ProxyCounts) -> bool {
    let mut lines = head.lines();
    let method = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default();
    let mut has_body = false;
    let mut range_start = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => has_body |= value.parse::<u64>().is_ok_and(|n| n > 0),
            "transfer-encoding" => has_body = true,
            "range" => {
                range_start = value
                    .strip_prefix("bytes=")
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.trim().parse::<u64>().ok());
            }
            _ => {}
        }
    }
    if method == "GET" {
        counts.gets.fetch_add(1, Ordering::Relaxed);
        if let Some(start) = range_start {
            counts.ranged_gets.fetch_add(1, Ordering::Relaxed);
            if start > 0 {
                counts.resumed_gets.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    has_body
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gets_ranges_and_resumes_until_a_body() {
        let counts = ProxyCounts::default();
        let mut sniffer = RequestSniffer::default();
        let stream = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /a HTTP/1.1\r\nRange: bytes=0-\r\n\r\nGET /a HTTP/1.1\r\nrange: bytes=4096-\r\n\r\n";
        // Split mid-head, as TCP may.
        sniffer.feed(&stream[..20], &counts);
        sniffer.feed(&stream[20..], &counts);
        sniffer.feed(
            b"PUT /b HTTP/1.1\r\ncontent-length: 4\r\n\r\nGET GET /c HTTP/1.1\r\nrange: bytes=9-\r\n\r\n",
            &counts,
        );
        assert_eq!(ProxyCounts::get(&counts.gets), 3);
        assert_eq!(ProxyCounts::get(&counts.ranged_gets), 2);
        assert_eq!(ProxyCounts::get(&counts.resumed_gets), 1);
    }
}
