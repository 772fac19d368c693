//! The start-up rule for download URLs on a platform of several nodes (ADR 0008).
//!
//! A push carries the download URL of the node that sent it. With the per-node default
//! (`http://<this node's address>`), every device pushed by a node that later goes away
//! fails its download, although other nodes could serve it. So a node that would push
//! its own address refuses to join other live nodes; a node with one shared address only
//! warns about neighbours that still push theirs (refusing it would not stop them). Packages
//! in an S3 bucket are pushed as presigned bucket URLs, which no node serves: no rule.

use ota_store::NodeRow;

/// The verdict on this node's download URLs among the live nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlVerdict {
    Fine,
    /// Start, but log this.
    Warn(String),
    /// Do not start; the message names the setting to change.
    Refuse(String),
}

fn describe(nodes: &[&NodeRow]) -> String {
    nodes
        .iter()
        .map(|n| format!("{} ({})", n.name, n.public_url))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Judges `me` among `live` (the live nodes of the store; earlier runs of `me`'s own name
/// are not neighbours and are ignored).
pub fn judge_public_urls(me: &NodeRow, live: &[NodeRow]) -> UrlVerdict {
    let others: Vec<&NodeRow> = live
        .iter()
        .filter(|n| n.node_id != me.node_id && n.name != me.name)
        .collect();
    if others.is_empty() || me.presigned_downloads {
        return UrlVerdict::Fine;
    }
    if !me.public_url_explicit {
        return UrlVerdict::Refuse(format!(
            "other nodes are running on this store ({}), and this node would put its own address \
             ({}) in download URLs: a device pushed by a node that goes away could not download. \
             Set public_url (--public-url or OTA_PUBLIC_URL) on every node to the one address in \
             front of all nodes (a load balancer, see docs/scale-out.md), or store packages in an \
             S3 bucket (s3_bucket)",
            describe(&others),
            me.public_url
        ));
    }
    let own_address: Vec<&NodeRow> = others
        .iter()
        .copied()
        .filter(|n| !n.public_url_explicit && !n.presigned_downloads)
        .collect();
    if !own_address.is_empty() {
        return UrlVerdict::Warn(format!(
            "nodes {} put their own address in download URLs (public_url not set): restart them \
             with public_url = {:?}",
            describe(&own_address),
            me.public_url
        ));
    }
    let differing: Vec<&NodeRow> = others
        .iter()
        .copied()
        .filter(|n| !n.presigned_downloads && n.public_url != me.public_url)
        .collect();
    if !differing.is_empty() {
        return UrlVerdict::Warn(format!(
            "nodes disagree on public_url: this node pushes {:?}, nodes {} push theirs",
            me.public_url,
            describe(&differing)
        ));
    }
    UrlVerdict::Fine
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, url: &str, explicit: bool) -> NodeRow {
        NodeRow {
            node_id: id.into(),
            name: format!("host-{id}"),
            public_url: url.into(),
            public_url_explicit: explicit,
            presigned_downloads: false,
            started_at: 0,
            heartbeat_at: 0,
            lost_at: None,
            recovered_by: None,
        }
    }

    const LB: &str = "https://ota.example.com";

    #[test]
    fn alone_anything_goes() {
        let me = node("a", "http://10.0.0.1:8080", false);
        assert_eq!(
            judge_public_urls(&me, std::slice::from_ref(&me)),
            UrlVerdict::Fine
        );
        // An earlier run of this very node is no neighbour.
        let mut earlier = node("old", "http://10.0.0.1:8080", false);
        earlier.name = me.name.clone();
        assert_eq!(judge_public_urls(&me, &[earlier]), UrlVerdict::Fine);
    }

    #[test]
    fn a_per_node_default_beside_others_is_refused_naming_the_setting() {
        let me = node("b", "http://10.0.0.2:8080", false);
        let verdict = judge_public_urls(&me, &[node("a", LB, true)]);
        let UrlVerdict::Refuse(message) = verdict else {
            panic!("{verdict:?}")
        };
        for named in [
            "public_url",
            "OTA_PUBLIC_URL",
            "host-a",
            "http://10.0.0.2:8080",
        ] {
            assert!(message.contains(named), "{named}: {message}");
        }
    }

    #[test]
    fn packages_in_a_bucket_need_no_shared_address() {
        let mut me = node("b", "http://10.0.0.2:8080", false);
        me.presigned_downloads = true;
        let other = node("a", "http://10.0.0.1:8080", false);
        assert_eq!(judge_public_urls(&me, &[other]), UrlVerdict::Fine);
    }

    #[test]
    fn neighbours_pushing_their_own_or_another_address_are_warned_about() {
        let me = node("b", LB, true);
        assert_eq!(
            judge_public_urls(&me, &[node("a", LB, true)]),
            UrlVerdict::Fine
        );
        let own = judge_public_urls(&me, &[node("a", "http://10.0.0.1:8080", false)]);
        assert!(
            matches!(&own, UrlVerdict::Warn(m) if m.contains("host-a")),
            "{own:?}"
        );
        let other = judge_public_urls(&me, &[node("a", "https://elsewhere", true)]);
        assert!(
            matches!(&other, UrlVerdict::Warn(m) if m.contains("disagree")),
            "{other:?}"
        );
    }
}
