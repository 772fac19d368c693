//! `HOST:PORT` arguments: an IP address or a host name (`localhost:1884`,
//! `broker.internal:1883`), resolved once when the command starts.

use std::net::{SocketAddr, ToSocketAddrs};

/// Parses `HOST:PORT`, resolving a host name to its first address.
pub fn parse_socket_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    if text
        .rsplit_once(':')
        .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(format!(
            "`{text}` is not HOST:PORT (for example 127.0.0.1:1883 or localhost:1883)"
        ));
    }
    let mut found = text
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{text}`: {e}"))?;
    found
        .next()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_host_names() {
        let rows: &[(&str, Result<&str, &str>)] = &[
            ("127.0.0.1:1884", Ok("127.0.0.1:1884")),
            ("[::1]:1884", Ok("[::1]:1884")),
            ("localhost:1884", Ok(":1884")),
            ("localhost", Err("not HOST:PORT")),
            (":1884", Err("not HOST:PORT")),
            ("localhost:port", Err("not HOST:PORT")),
            ("localhost:70000", Err("not HOST:PORT")),
            ("no-such-host.invalid:1884", Err("cannot resolve")),
        ];
        for (text, want) in rows {
            match (parse_socket_addr(text), want) {
                (Ok(addr), Ok(expected)) => {
                    assert!(addr.to_string().ends_with(expected), "{text}: {addr}")
                }
                (Err(err), Err(expected)) => assert!(err.contains(expected), "{text}: {err}"),
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
    }
}
